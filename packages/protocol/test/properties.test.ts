// Property tests (fast-check): every message type round-trips through both protocols; the
// official client's codecs (@microsoft/signalr JsonHubProtocol, @microsoft/signalr-protocol-msgpack
// MessagePackHubProtocol) read what we write and we read what they write, as the same values (the
// bytes may differ); and a byte stream cut anywhere into pieces parses to the same messages.
// Seeded (FC_SEED overrides), so a failure replays; fast-check prints the counterexample.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import {
  type HubMessage as ClientHubMessage,
  JsonHubProtocol as ClientJsonHubProtocol,
  NullLogger,
} from '@microsoft/signalr';
import { MessagePackHubProtocol as ClientMessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import {
  type HubMessage,
  type HubProtocol,
  jsonHubProtocol,
  MessageType,
  messagePackHubProtocol,
} from '@switchboard/protocol';
import fc from 'fast-check';
import { comparable, toArrayBuffer } from './helpers.js';

const clientJson = new ClientJsonHubProtocol();
const clientMessagePack = new ClientMessagePackHubProtocol();
const logger = NullLogger.instance;
const settings = { seed: Number(process.env.FC_SEED ?? 20261206), numRuns: 200 };

/**
 * -0 compares equal to 0 (JSON writes it as 0, and MessagePack as the integer 0, on both sides), and
 * bin as plain bytes (ours is a view of the input, a Buffer when the input is one).
 */
function normalize(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

function same(actual: unknown, expected: unknown): void {
  assert.ok(
    isDeepStrictEqual(normalize(actual), normalize(expected)),
    `${JSON.stringify(actual)} differs from ${JSON.stringify(expected)}`,
  );
}

const text = fc.string({ unit: 'binary', maxLength: 12 });
const nonEmpty = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });

/** Payload values each protocol carries as themselves. */
function values(binary: boolean): fc.Arbitrary<unknown> {
  const leaves: fc.Arbitrary<unknown>[] = [
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    text,
  ];
  if (binary) {
    leaves.push(fc.uint8Array({ maxLength: 8 }), fc.date({ noInvalidDate: true }));
  }
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      ...leaves,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(text, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    ),
  }));
  return value;
}

const headers = fc.option(
  fc.dictionary(nonEmpty, nonEmpty, { minKeys: 1, maxKeys: 3, noNullPrototype: true }),
  {
    nil: undefined,
  },
);

/** Drops the keys whose value is undefined (optional fields left out). */
function defined<T extends object>(message: T): T {
  return Object.fromEntries(Object.entries(message).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Every message type, with the fields a valid message of that type may have. `from` limits the
 * types and forms to what one side sends: the server never sends StreamInvocation, CancelInvocation
 * or stream ids; the official client never sends a Close with an error or allowReconnect.
 */
function messages(binary: boolean, from: 'server' | 'client' | 'any'): fc.Arbitrary<HubMessage> {
  const value = values(binary);
  const args = fc.array(value, { maxLength: 4 });
  const streamIds =
    from === 'server'
      ? fc.constant(undefined)
      : fc.option(fc.array(nonEmpty, { minLength: 1, maxLength: 3 }), { nil: undefined });
  const kinds: fc.Arbitrary<HubMessage>[] = [
    fc
      .record({
        invocationId: fc.option(nonEmpty, { nil: undefined }),
        target: nonEmpty,
        arguments: args,
        streamIds,
        headers,
      })
      .map((m) => defined({ type: MessageType.Invocation, ...m })),
    fc
      .record({ invocationId: nonEmpty, item: value, headers })
      .map((m) => defined({ type: MessageType.StreamItem, ...m })),
    fc
      .record({ invocationId: nonEmpty, headers })
      .map((m) => defined({ type: MessageType.Completion, ...m, hasResult: false })),
    fc
      .record({ invocationId: nonEmpty, result: value, headers })
      .map((m) => defined({ type: MessageType.Completion, ...m, hasResult: true })),
    fc
      .record({ invocationId: nonEmpty, error: nonEmpty, headers })
      .map((m) => defined({ type: MessageType.Completion, ...m, hasResult: false })),
    fc.constant({ type: MessageType.Ping }),
    fc.nat().map((sequenceId) => ({ type: MessageType.Ack, sequenceId })),
    fc.maxSafeNat().map((sequenceId) => ({ type: MessageType.Sequence, sequenceId })),
  ];
  if (from !== 'server') {
    kinds.push(
      fc
        .record({ invocationId: nonEmpty, target: nonEmpty, arguments: args, streamIds, headers })
        .map((m) => defined({ type: MessageType.StreamInvocation, ...m })),
      fc
        .record({ invocationId: nonEmpty, headers })
        .map((m) => defined({ type: MessageType.CancelInvocation, ...m })),
    );
  }
  kinds.push(
    from === 'client'
      ? fc.constant({ type: MessageType.Close })
      : fc
          .record({
            error: fc.option(nonEmpty, { nil: undefined }),
            allowReconnect: fc.option(fc.constant(true as const), { nil: undefined }),
          })
          .map((m) => defined({ type: MessageType.Close, ...m })),
  );
  return fc.oneof(...kinds) as fc.Arbitrary<HubMessage>;
}

const protocols: [HubProtocol, boolean][] = [
  [jsonHubProtocol, false],
  [messagePackHubProtocol, true],
];

for (const [protocol, binary] of protocols) {
  describe(`${protocol.name}: properties`, () => {
    it('decode of encode is the same message, for every message type', () => {
      fc.assert(
        fc.property(messages(binary, 'any'), (message) => {
          const bytes = protocol.writeMessage(message);
          const { messages: parsed, consumed } = protocol.parseMessages(bytes);
          assert.equal(consumed, bytes.length);
          assert.equal(parsed.length, 1);
          same(parsed[0], message);
        }),
        settings,
      );
    });

    it('a byte stream cut anywhere parses, piece by piece, to the same messages', () => {
      const stream = fc.array(messages(binary, 'any'), { minLength: 1, maxLength: 6 }).chain((list) => {
        const bytes = Buffer.concat(list.map((m) => protocol.writeMessage(m)));
        return fc.tuple(
          fc.constant(list),
          fc.constant(bytes),
          fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), { maxLength: 8 }),
        );
      });
      fc.assert(
        fc.property(stream, ([list, bytes, cuts]) => {
          const found: HubMessage[] = [];
          let buffer = Buffer.alloc(0);
          let start = 0;
          for (const end of [...cuts.sort((a, b) => a - b), bytes.length]) {
            buffer = Buffer.concat([buffer, bytes.subarray(start, end)]);
            start = end;
            const { messages: parsed, consumed } = protocol.parseMessages(buffer);
            found.push(...parsed);
            buffer = buffer.subarray(consumed);
          }
          assert.equal(buffer.length, 0);
          same(found, list);
        }),
        settings,
      );
    });
  });
}

describe('the official JSON client: properties', () => {
  it('reads what we write, as the same values', () => {
    fc.assert(
      fc.property(messages(false, 'server'), (message) => {
        const parsed = clientJson.parseMessages(
          jsonHubProtocol.writeMessage(message).toString('utf8'),
          logger,
        );
        assert.equal(parsed.length, 1);
        same(comparable(parsed[0]!), comparable(message));
      }),
      settings,
    );
  });

  it('writes what we read, as the same values', () => {
    fc.assert(
      fc.property(messages(false, 'client'), (message) => {
        const written = clientJson.writeMessage(comparable(message) as unknown as ClientHubMessage);
        const { messages: parsed, consumed } = jsonHubProtocol.parseMessages(Buffer.from(written));
        assert.equal(consumed, Buffer.byteLength(written));
        same(parsed, [message]);
      }),
      settings,
    );
  });
});

describe('the official MessagePack client: properties', () => {
  it('reads what we write, as the same values', () => {
    fc.assert(
      fc.property(messages(true, 'server'), (message) => {
        const parsed = clientMessagePack.parseMessages(
          toArrayBuffer(messagePackHubProtocol.writeMessage(message)),
          logger,
        );
        assert.equal(parsed.length, 1);
        same(comparable(parsed[0]!), comparable(message));
      }),
      settings,
    );
  });

  it('writes what we read, as the same values', () => {
    fc.assert(
      fc.property(messages(true, 'client'), (message) => {
        const bytes = new Uint8Array(
          clientMessagePack.writeMessage(comparable(message) as unknown as ClientHubMessage) as ArrayBuffer,
        );
        const { messages: parsed, consumed } = messagePackHubProtocol.parseMessages(bytes);
        assert.equal(consumed, bytes.length);
        same(parsed, [message]);
      }),
      settings,
    );
  });
});
