/**
 * Fuzz targets over packages/protocol: the JSON and MessagePack hub protocols, the handshake, and
 * the text and binary framing.
 *
 * Each input's first byte picks the maximum message size (and, for the streaming check, where the
 * rest is cut into chunks); the remaining bytes are what a client sent. Invariants:
 * - nothing but the catalogue's {@link ProtocolError}s is ever thrown;
 * - fed chunk by chunk with the leftover kept between calls, as a connection does, the parser
 *   finds the same messages (or the same error) as from the whole buffer, and the bytes it leaves
 *   unconsumed never exceed the message size limit;
 * - every parsed message written and parsed again is the same message, and writes the same bytes;
 * - the JSON parser's known-valid-UTF-8 path agrees with its checked path.
 * @module
 */
import { isUtf8 } from 'node:buffer';
import {
  type HubMessage,
  type HubProtocol,
  jsonHubProtocol,
  messagePackHubProtocol,
  parseBinaryMessages,
  parseHandshakeRequest,
  parseTextMessages,
  RECORD_SEPARATOR,
  readLengthPrefix,
  writeBinaryMessage,
  writeHandshakeRequest,
  writeTextMessage,
} from '@switchboard/protocol';
import { acceptHandshake } from '../../../packages/server/src/connection/handshake.ts';
import type { FuzzTarget } from '../engine.js';
import { catalogued, check, InvariantError, sameValue, show } from '../invariants.js';

/** Message size limits the first input byte chooses from (undefined: no limit). */
const LIMITS = [32_768, undefined, 256, 64, 24, 9] as const;
const COVER = ['/packages/protocol/src/'];

/** The limit and the chunk boundaries an input's header byte selects. */
function split(data: Buffer): { limit: number | undefined; body: Buffer; cuts: number[] } {
  const header = data[0] ?? 0;
  const body = data.subarray(1);
  const limit = LIMITS[header % LIMITS.length];
  // Cut points spread by the header's high bits: 0 = whole, else every `step` bytes.
  const step = header >> 3;
  const cuts: number[] = [];
  if (step > 0) for (let at = step; at < body.length; at += step) cuts.push(at);
  return { limit, body, cuts };
}

/** Feeds `chunks` one at a time, keeping the unconsumed tail as a connection does. */
function stream(
  parse: (input: Buffer) => { messages?: unknown[]; payloads?: Uint8Array[]; consumed: number },
  body: Buffer,
  cuts: number[],
  limit: number | undefined,
): { found: unknown[]; tail: number } {
  const found: unknown[] = [];
  let buffer = Buffer.alloc(0);
  let start = 0;
  for (const end of [...cuts, body.length]) {
    buffer = Buffer.concat([buffer, body.subarray(start, end)]);
    start = end;
    const result = parse(buffer);
    found.push(...(result.messages ?? result.payloads!.map((p) => Buffer.from(p))));
    buffer = buffer.subarray(result.consumed);
    if (limit !== undefined) {
      check(buffer.length <= limit, `${buffer.length} unconsumed bytes kept, over the limit of ${limit}`);
    }
  }
  return { found, tail: buffer.length };
}

/** Whole-buffer and chunked parses agree, and the parsed messages survive a write and re-parse. */
function checkHubProtocol(protocol: HubProtocol, data: Buffer): void {
  const { limit, body, cuts } = split(data);
  const options = limit === undefined ? {} : { maxMessageSize: limit };
  const whole = catalogued(() => protocol.parseMessages(body, options));
  const chunked = catalogued(() => stream((b) => protocol.parseMessages(b, options), body, cuts, limit));
  check(whole.ok === chunked.ok, () => `whole parse ${whole.ok ? 'succeeded' : 'failed'}, chunked did not`);
  if (!whole.ok || !chunked.ok) {
    if (!whole.ok && !chunked.ok) {
      check(
        whole.error.code === chunked.error.code,
        `${whole.error.code} whole, ${chunked.error.code} chunked`,
      );
    }
    return;
  }
  const { messages, consumed } = whole.value;
  check(consumed <= body.length, 'consumed more than the input');
  if (limit !== undefined) check(body.length - consumed <= limit, 'the unconsumed tail exceeds the limit');
  check(chunked.value.tail === body.length - consumed, 'chunked and whole parses left different tails');
  check(sameValue(chunked.value.found, messages), 'chunked and whole parses found different messages');
  if (protocol === jsonHubProtocol && isUtf8(body)) {
    const fast = catalogued(() => protocol.parseMessages(body, { ...options, utf8Validated: true }));
    check(fast.ok && sameValue(fast.value.messages, messages), 'the known-valid UTF-8 path disagrees');
  }
  for (const message of messages) roundTrip(protocol, message);
}

/**
 * `message` as a writer can express it. The parsers keep an empty `error` on a Completion or a
 * Close, as the reference reads it, while the writers follow the reference's write rules and the
 * client's checks and leave an empty error out (docs/protocol.md#json-writing): that one
 * difference is expected.
 */
function writable(message: HubMessage): HubMessage {
  if ((message.type === 3 || message.type === 7) && message.error === '') {
    const { error: _error, ...rest } = message;
    return rest as HubMessage;
  }
  return message;
}

/** Decode of encode is the same message, and encoding is a fixpoint. */
export function roundTrip(protocol: HubProtocol, parsed: HubMessage): void {
  const message = writable(parsed);
  const written = catalogued(() => protocol.writeMessage(message));
  check(written.ok, () => `a parsed message could not be written: ${show(message)}`);
  const bytes = written.value;
  const again = catalogued(() => protocol.parseMessages(bytes));
  check(again.ok, () => `what ${protocol.name} wrote does not parse: ${bytes.toString('hex')}`);
  check(again.value.consumed === bytes.length && again.value.messages.length === 1, 'one message, all bytes');
  const copy = again.value.messages[0]!;
  check(sameValue(copy, message), () => `decode(encode(m)) differs: ${show(message)} -> ${show(copy)}`);
  check(protocol.writeMessage(copy).equals(bytes), 'encoding is not a fixpoint');
}

const JSON_DICTIONARY = [
  '{"type":1,"target":"Echo","arguments":[]}',
  '"type":',
  '"invocationId":"1"',
  '"target":',
  '"arguments":[',
  '"streamIds":["2"]',
  '"headers":{"a":"b"}',
  '"item":',
  '"result":',
  '"error":"e"',
  '"allowReconnect":true',
  '"sequenceId":',
  '\u001e',
  '\\u001e',
  '\\ud800',
  'null',
  'true',
  '1e400',
  '-0',
  '9007199254740993',
  '{}',
  '[]',
  '"\u00e9"',
];

/** The JSON hub protocol over arbitrary bytes. */
export const jsonTarget: FuzzTarget = {
  name: 'json-hub-protocol',
  cover: COVER,
  maxLength: 512,
  dictionary: JSON_DICTIONARY,
  seeds: [
    '\x00{"type":1,"invocationId":"0","target":"Echo","arguments":["hi",1,null,{"a":[true]}]}\x1e{"type":6}\x1e',
    '\x11{"arguments":[1],"streamIds":["1"],"target":"Upload","invocationId":"2","type":1}\x1e{"type":2,"invocationId":"1","item":"x"}\x1e',
    '\x08{"type":3,"invocationId":"1","result":null}\x1e{"type":3,"invocationId":"2","error":"boom"}\x1e{"type":3,"invocationId":"3"}\x1e',
    '\x00{"type":4,"invocationId":"4","target":"Counter","arguments":[5],"headers":{"k":"v"}}\x1e{"type":5,"invocationId":"4"}\x1e',
    '\x18{"type":7,"error":"bye","allowReconnect":true}\x1e{"type":8,"sequenceId":3}\x1e{"type":9,"sequenceId":1}\x1e',
    '\x01{"type":99,"x":1}\x1e{"type":1,"target":"a","arguments":[]}\x1e{"ty',
  ].map((s) => Buffer.from(s, 'latin1')),
  run: (data) => checkHubProtocol(jsonHubProtocol, data),
};

function framedMsgpack(...bodies: number[][]): Buffer {
  return Buffer.concat(bodies.map((b) => writeBinaryMessage(Uint8Array.from(b))));
}

/** The MessagePack hub protocol over arbitrary bytes. */
export const messagePackTarget: FuzzTarget = {
  name: 'messagepack-hub-protocol',
  cover: COVER,
  maxLength: 512,
  dictionary: [
    Uint8Array.of(0x91, 0x06),
    Uint8Array.of(0x96, 0x01, 0x80),
    Uint8Array.of(0x95, 0x03, 0x80, 0xa1, 0x30, 0x03),
    Uint8Array.of(0x80),
    Uint8Array.of(0x81, 0xa1, 0x61, 0xa1, 0x62),
    Uint8Array.of(0x90),
    Uint8Array.of(0xc0),
    Uint8Array.of(0xd6, 0xff, 0x38, 0x6d, 0x43, 0x80),
    Uint8Array.of(0xc4, 0x02, 0x01, 0x02),
    Uint8Array.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0),
    Uint8Array.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    Uint8Array.of(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0),
    Uint8Array.of(0xdc, 0x00, 0x03),
    Uint8Array.of(0xde, 0x00, 0x01),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07),
    Uint8Array.of(0xd4, 0x05, 0x01),
    Uint8Array.of(0xa4, 0x45, 0x63, 0x68, 0x6f),
  ],
  seeds: [
    Buffer.concat([
      Uint8Array.of(0x00),
      framedMsgpack(
        [0x96, 0x01, 0x80, 0xa1, 0x30, 0xa4, 0x45, 0x63, 0x68, 0x6f, 0x92, 0xa2, 0x68, 0x69, 0x01, 0x90],
        [0x91, 0x06],
      ),
    ]),
    Buffer.concat([
      Uint8Array.of(0x11),
      framedMsgpack(
        [0x95, 0x01, 0x80, 0xc0, 0xa1, 0x61, 0x91, 0xc4, 0x02, 0x01, 0x02],
        [0x94, 0x02, 0x80, 0xa1, 0x31, 0xd6, 0xff, 0x38, 0x6d, 0x43, 0x80],
        [0x95, 0x03, 0x80, 0xa1, 0x30, 0x03, 0x2a],
        [0x95, 0x03, 0x81, 0xa1, 0x6b, 0xa1, 0x76, 0xa1, 0x31, 0x01, 0xa4, 0x62, 0x6f, 0x6f, 0x6d],
        [0x94, 0x03, 0x80, 0xa1, 0x32, 0x02],
      ),
    ]),
    Buffer.concat([
      Uint8Array.of(0x08),
      framedMsgpack(
        [0x96, 0x04, 0x80, 0xa1, 0x34, 0xa1, 0x43, 0x91, 0x05, 0x91, 0xa1, 0x35],
        [0x93, 0x05, 0x80, 0xa1, 0x34],
        [0x93, 0x07, 0xa3, 0x62, 0x79, 0x65, 0xc3],
        [0x92, 0x07, 0xc0],
        [0x92, 0x08, 0x03],
        [0x92, 0x09, 0xcd, 0x01, 0x00],
        [0x92, 0x63, 0x01],
      ),
      Uint8Array.of(0x85, 0x01),
    ]),
  ],
  run: (data) => checkHubProtocol(messagePackHubProtocol, data),
};

/** The handshake request parser, and the server's handshake check, over arbitrary bytes. */
export const handshakeTarget: FuzzTarget = {
  name: 'handshake',
  cover: [...COVER, '/packages/server/src/connection/handshake.ts'],
  maxLength: 256,
  dictionary: [
    '"protocol":',
    '"version":',
    '"json"',
    '"messagepack"',
    '1',
    '2',
    '\u001e',
    '{',
    '}',
    ',',
    '1.0',
    '-1',
  ],
  seeds: [
    '\x00{"protocol":"json","version":1}\x1e{"type":6}\x1e',
    '\x01{"protocol":"messagepack","version":2,"extra":[1,{"a":null}]}\x1e\x02\x91\x06',
    '\x03{"version":1,"protocol":"JSON"}\x1e',
  ].map((s) => Buffer.from(s, 'latin1')),
  run(data) {
    const { limit, body } = split(data);
    const parsed = catalogued(() => parseHandshakeRequest(body, limit));
    checkServerHandshake(body, limit, parsed.ok ? parsed.value : undefined);
    if (!parsed.ok || parsed.value === null) {
      if (parsed.ok && limit !== undefined)
        check(body.length <= limit, 'an unfinished handshake over the limit');
      return;
    }
    const { request, consumed } = parsed.value;
    check(body[consumed - 1] === RECORD_SEPARATOR, 'the handshake does not end at a separator');
    if (limit !== undefined) check(consumed <= limit, 'a handshake over the limit was accepted');
    check(typeof request.protocol === 'string' && Number.isInteger(request.version), 'bad field types');
    const again = parseHandshakeRequest(writeHandshakeRequest(request.protocol, request.version));
    check(again !== null && sameValue(again.request, request), 'decode(encode(handshake)) differs');
  },
};

/**
 * The server's side of the same bytes (`acceptHandshake`): it never throws, refuses exactly what the
 * parser refuses (with a reply text), and accepts a request for a protocol it speaks, in a version
 * it speaks, with the parser's byte count.
 */
function checkServerHandshake(
  body: Buffer,
  limit: number | undefined,
  parsed: ReturnType<typeof parseHandshakeRequest> | undefined,
): void {
  let outcome: ReturnType<typeof acceptHandshake>;
  try {
    outcome = acceptHandshake(
      body,
      [jsonHubProtocol, messagePackHubProtocol],
      { maximumReceiveMessageSize: limit ?? 1 << 30, enableDetailedErrors: true },
      (body.length & 1) === 0,
    );
  } catch (error) {
    throw new InvariantError(`acceptHandshake threw: ${String(error)}`, { cause: error });
  }
  if (parsed === undefined) {
    check(
      outcome !== undefined && !outcome.ok && outcome.message.length > 0,
      'a bad handshake was not refused',
    );
    return;
  }
  if (parsed === null) {
    check(outcome === undefined, 'an unfinished handshake got an outcome');
    return;
  }
  check(outcome !== undefined, 'a complete handshake got no outcome');
  if (!outcome.ok) return;
  check(outcome.consumed === parsed.consumed, 'the server and the parser disagree on its length');
  check(outcome.protocol.name === parsed.request.protocol.toLowerCase(), 'the server chose another protocol');
  check(
    outcome.version >= 0 && outcome.version <= outcome.protocol.version,
    'a version the server does not speak',
  );
}

/** The 0x1E text framing: payloads and separators rebuild the consumed bytes. */
export const textFramingTarget: FuzzTarget = {
  name: 'text-framing',
  cover: COVER,
  maxLength: 256,
  dictionary: ['\u001e', '\u001e\u001e', 'abc'],
  seeds: ['\x00{}\x1e{"a":1}\x1exyz', '\x0b\x1e\x1e\x1e', '\x1dabcdefghijklmnop\x1eq'].map((s) =>
    Buffer.from(s, 'latin1'),
  ),
  run(data) {
    const { limit, body, cuts } = split(data);
    const whole = catalogued(() => parseTextMessages(body, limit));
    const chunked = catalogued(() => stream((b) => parseTextMessages(b, limit), body, cuts, limit));
    check(whole.ok === chunked.ok, 'whole and chunked framing disagree on failing');
    if (!whole.ok || !chunked.ok) return;
    const { payloads, consumed } = whole.value;
    const rebuilt = Buffer.concat(payloads.flatMap((p) => [p, Uint8Array.of(RECORD_SEPARATOR)]));
    check(rebuilt.equals(body.subarray(0, consumed)), 'payloads and separators do not rebuild the input');
    check(
      payloads.every((p) => !p.includes(RECORD_SEPARATOR)),
      'a payload holds a separator',
    );
    if (limit !== undefined)
      check(
        payloads.every((p) => p.length + 1 <= limit),
        'a frame over the limit',
      );
    check(
      sameValue(
        chunked.value.found,
        payloads.map((p) => Buffer.from(p)),
      ),
      'chunked framing differs',
    );
    for (const p of payloads)
      check(writeTextMessage(p).equals(Buffer.concat([p, Uint8Array.of(0x1e)])), 'write');
  },
};

/** The varint-prefixed binary framing: prefixes and payloads rebuild the consumed bytes. */
export const binaryFramingTarget: FuzzTarget = {
  name: 'binary-framing',
  cover: COVER,
  maxLength: 256,
  dictionary: [
    Uint8Array.of(0x80, 0x01),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x08),
    Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x00),
    Uint8Array.of(0x00),
  ],
  seeds: [
    Buffer.from('00029106049307c0c3', 'hex'),
    Buffer.concat([Uint8Array.of(0x10), writeBinaryMessage(Buffer.alloc(200, 7)), Uint8Array.of(0x81)]),
  ],
  run(data) {
    const { limit, body, cuts } = split(data);
    const whole = catalogued(() => parseBinaryMessages(body, limit));
    const chunked = catalogued(() => stream((b) => parseBinaryMessages(b, limit), body, cuts, limit));
    check(whole.ok === chunked.ok, 'whole and chunked framing disagree on failing');
    if (!whole.ok || !chunked.ok) return;
    const { payloads, consumed } = whole.value;
    const rebuilt = Buffer.concat(payloads.map((p) => writeBinaryMessage(p)));
    let offset = 0;
    for (const p of payloads) {
      const prefix = readLengthPrefix(body, offset);
      check(prefix !== null && prefix.length === p.length, 'a payload does not match its prefix');
      const start = offset + prefix.prefixSize;
      check(body.subarray(start, start + p.length).equals(p), 'a payload is not the bytes after its prefix');
      if (limit !== undefined) check(prefix.prefixSize + p.length <= limit, 'a frame over the limit');
      offset = start + p.length;
    }
    check(offset === consumed, 'payloads do not account for every consumed byte');
    const reparsed = parseBinaryMessages(rebuilt);
    check(
      sameValue(
        reparsed.payloads.map((p) => Buffer.from(p)),
        payloads.map((p) => Buffer.from(p)),
      ),
      'rewrite',
    );
    check(
      sameValue(
        chunked.value.found,
        payloads.map((p) => Buffer.from(p)),
      ),
      'chunked framing differs',
    );
  },
};
