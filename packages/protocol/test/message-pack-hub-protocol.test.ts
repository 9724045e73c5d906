import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type HubMessage,
  MessagePackHubProtocol,
  MessageType,
  messagePackHubProtocol as protocol,
} from '@switchboard/protocol';
import { assertProtocolError, frameBinary, hex, toHex } from './helpers.js';

const headers = {
  Foo: 'Bar',
  'KeyWith\nNew\r\nLines': 'Still Works',
  ValueWithNewLines: 'Also\nWorks\r\nFine',
};
const body = (base64: string) => Buffer.from(base64, 'base64');
const parse = (bytes: Uint8Array) => protocol.parseMessages(bytes).messages;

/**
 * Messages and their unframed bodies, base64 as in MessagePackHubProtocolTestBase (dotnet/aspnetcore):
 * what ASP.NET writes, and so what we must write byte for byte.
 */
const fixtures: Array<[string, HubMessage, string]> = [
  [
    'Invocation with an id and no arguments',
    { type: 1, invocationId: 'xyz', target: 'method', arguments: [] },
    'lgGAo3h5eqZtZXRob2SQkA==',
  ],
  ['non-blocking Invocation', { type: 1, target: 'method', arguments: [] }, 'lgGAwKZtZXRob2SQkA=='],
  ['Invocation with an integer', { type: 1, target: 'method', arguments: [42] }, 'lgGAwKZtZXRob2SRKpA='],
  [
    'Invocation with an integer and a string',
    { type: 1, target: 'method', arguments: [42, 'string'] },
    'lgGAwKZtZXRob2SSKqZzdHJpbmeQ',
  ],
  [
    'Invocation with a stream',
    { type: 1, target: 'Target', arguments: [], streamIds: ['__test_id__'] },
    'lgGAwKZUYXJnZXSQkatfX3Rlc3RfaWRfXw==',
  ],
  [
    'Invocation with a stream and an argument',
    { type: 1, target: 'Target', arguments: [42], streamIds: ['__test_id__'] },
    'lgGAwKZUYXJnZXSRKpGrX190ZXN0X2lkX18=',
  ],
  [
    'Invocation with two streams',
    { type: 1, target: 'Target', arguments: [], streamIds: ['__test_id__', '__test_id2__'] },
    'lgGAwKZUYXJnZXSQkqtfX3Rlc3RfaWRfX6xfX3Rlc3RfaWQyX18=',
  ],
  ['StreamItem with an integer', { type: 2, invocationId: 'xyz', item: 42 }, 'lAKAo3h5eio='],
  ['StreamItem with a string', { type: 2, invocationId: 'xyz', item: 'string' }, 'lAKAo3h5eqZzdHJpbmc='],
  ['StreamItem with a bool', { type: 2, invocationId: 'xyz', item: true }, 'lAKAo3h5esM='],
  [
    'Completion with an error',
    { type: 3, invocationId: 'xyz', hasResult: false, error: 'Error not found!' },
    'lQOAo3h5egGwRXJyb3Igbm90IGZvdW5kIQ==',
  ],
  [
    'Completion with headers and an error',
    { type: 3, invocationId: 'xyz', hasResult: false, error: 'Error not found!', headers },
    'lQODo0Zvb6NCYXKyS2V5V2l0aApOZXcNCkxpbmVzq1N0aWxsIFdvcmtzsVZhbHVlV2l0aE5ld0xpbmVzsEFsc28KV29ya3MNCkZpbmWjeHl6AbBFcnJvciBub3QgZm91bmQh',
  ],
  ['void Completion', { type: 3, invocationId: 'xyz', hasResult: false }, 'lAOAo3h5egI='],
  [
    'void Completion with headers',
    { type: 3, invocationId: 'xyz', hasResult: false, headers },
    'lAODo0Zvb6NCYXKyS2V5V2l0aApOZXcNCkxpbmVzq1N0aWxsIFdvcmtzsVZhbHVlV2l0aE5ld0xpbmVzsEFsc28KV29ya3MNCkZpbmWjeHl6Ag==',
  ],
  [
    'Completion with an integer',
    { type: 3, invocationId: 'xyz', hasResult: true, result: 42 },
    'lQOAo3h5egMq',
  ],
  [
    'Completion with a string',
    { type: 3, invocationId: 'xyz', hasResult: true, result: 'string' },
    'lQOAo3h5egOmc3RyaW5n',
  ],
  ['Completion with a bool', { type: 3, invocationId: 'xyz', hasResult: true, result: true }, 'lQOAo3h5egPD'],
  [
    'StreamInvocation',
    { type: 4, invocationId: 'xyz', target: 'method', arguments: [] },
    'lgSAo3h5eqZtZXRob2SQkA==',
  ],
  [
    'StreamInvocation with an integer',
    { type: 4, invocationId: 'xyz', target: 'method', arguments: [42] },
    'lgSAo3h5eqZtZXRob2SRKpA=',
  ],
  [
    'StreamInvocation with a stream',
    { type: 4, invocationId: 'xyz', target: 'method', arguments: [], streamIds: ['__test_id__'] },
    'lgSAo3h5eqZtZXRob2SQkatfX3Rlc3RfaWRfXw==',
  ],
  [
    'StreamInvocation with an integer and a string',
    { type: 4, invocationId: 'xyz', target: 'method', arguments: [42, 'string'] },
    'lgSAo3h5eqZtZXRob2SSKqZzdHJpbmeQ',
  ],
  ['CancelInvocation', { type: 5, invocationId: 'xyz' }, 'kwWAo3h5eg=='],
  [
    'CancelInvocation with headers',
    { type: 5, invocationId: 'xyz', headers },
    'kwWDo0Zvb6NCYXKyS2V5V2l0aApOZXcNCkxpbmVzq1N0aWxsIFdvcmtzsVZhbHVlV2l0aE5ld0xpbmVzsEFsc28KV29ya3MNCkZpbmWjeHl6',
  ],
  ['Ping', { type: 6 }, 'kQY='],
  ['Close', { type: 7 }, 'kwfAwg=='],
  ['Close with an error', { type: 7, error: 'Error!' }, 'kwemRXJyb3Ihwg=='],
  ['Close allowing reconnect', { type: 7, allowReconnect: true }, 'kwfAww=='],
  [
    'Close with an error, allowing reconnect',
    { type: 7, error: 'Error!', allowReconnect: true },
    'kwemRXJyb3Ihww==',
  ],
  ['Ack', { type: 8, sequenceId: 42 }, 'kggq'],
  ['Sequence', { type: 9, sequenceId: 146 }, 'kgnMkg=='],
];

/** Framed vectors computed by hand (docs/protocol.md#messagepack-examples). */
const handVectors: Array<[string, HubMessage, string]> = [
  ['Ping', { type: MessageType.Ping }, '02 91 06'],
  ['server default Close', { type: MessageType.Close }, '04 93 07 c0 c2'],
  [
    'void Completion for "0"',
    { type: MessageType.Completion, invocationId: '0', hasResult: false },
    '06 94 03 80 a1 30 02',
  ],
  [
    'Completion with 42',
    { type: MessageType.Completion, invocationId: '0', hasResult: true, result: 42 },
    '07 95 03 80 a1 30 03 2a',
  ],
  [
    'error Completion "boom"',
    { type: MessageType.Completion, invocationId: '0', hasResult: false, error: 'boom' },
    '0b 95 03 80 a1 30 01 a4 62 6f 6f 6d',
  ],
  [
    'non-blocking Invocation Message("hi")',
    { type: MessageType.Invocation, target: 'Message', arguments: ['hi'] },
    '11 96 01 80 c0 a7 4d 65 73 73 61 67 65 91 a2 68 69 90',
  ],
  ['Ack 5', { type: MessageType.Ack, sequenceId: 5 }, '03 92 08 05'],
  ['Sequence 1', { type: MessageType.Sequence, sequenceId: 1 }, '03 92 09 01'],
];

describe('MessagePackHubProtocol', () => {
  it('describes itself as messagepack version 2 over binary', () => {
    assert.equal(protocol.name, 'messagepack');
    assert.equal(protocol.version, 2);
    assert.equal(protocol.transferFormat, 'Binary');
    assert.ok(protocol instanceof MessagePackHubProtocol);
  });

  describe('writes and parses the reference baselines', () => {
    for (const [name, message, base64] of fixtures) {
      it(name, () => {
        const framed = protocol.writeMessage(message);
        assert.equal(toHex(framed), toHex(frameBinary(body(base64))));
        assert.deepEqual(protocol.parseMessages(framed), { messages: [message], consumed: framed.length });
      });
    }
  });

  describe('reproduces the hand-computed vectors', () => {
    for (const [name, message, bytes] of handVectors) {
      it(name, () => {
        assert.equal(toHex(protocol.writeMessage(message)), bytes);
        assert.deepEqual(parse(hex(bytes)), [message]);
      });
    }
  });

  describe('write rules (docs/protocol.md#messagepack-layouts)', () => {
    const write = (message: HubMessage) => toHex(protocol.writeMessage(message));

    it('writes an empty id as nil and empty headers as an empty map', () => {
      assert.equal(
        write({ type: MessageType.Invocation, invocationId: '', target: 'M', arguments: [], headers: {} }),
        toHex(frameBinary(hex('96 01 80 c0 a1 4d 90 90'))),
      );
    });

    it('writes an absent item and a null result as nil', () => {
      assert.equal(
        write({ type: MessageType.StreamItem, invocationId: '1', item: undefined }),
        '06 94 02 80 a1 31 c0',
      );
      assert.equal(
        write({ type: MessageType.Completion, invocationId: '1', hasResult: true, result: null }),
        '07 95 03 80 a1 31 03 c0',
      );
    });

    it('writes an empty error as no error', () => {
      assert.equal(
        write({ type: MessageType.Completion, invocationId: '1', hasResult: false, error: '' }),
        '06 94 03 80 a1 31 02',
      );
      assert.equal(write({ type: MessageType.Close, error: '' }), '04 93 07 c0 c2');
    });

    it('keeps bin, dates and maps (docs/protocol.md#messagepack-values)', () => {
      const date = new Date(Date.UTC(2000, 0, 1));
      const bytes = protocol.writeMessage({
        type: MessageType.Invocation,
        target: 'M',
        arguments: [Uint8Array.of(1, 2), date, { ByteArray: Uint8Array.of(3), IntArray: [1, 2] }, 1.5, -1],
      });
      assert.ok(toHex(bytes).includes('c4 02 01 02'), 'bin 8');
      assert.ok(toHex(bytes).includes('d6 ff 38 6d 43 80'), 'timestamp 32');
      assert.ok(toHex(bytes).includes('cb 3f f8 00 00 00 00 00 00'), 'float 64');
      const [message] = parse(bytes);
      assert.ok(message.type === MessageType.Invocation);
      const [bin, parsedDate, object, float, negative] = message.arguments;
      assert.ok(bin instanceof Uint8Array);
      assert.deepEqual([...bin], [1, 2]);
      assert.ok(parsedDate instanceof Date);
      assert.equal(parsedDate.getTime(), date.getTime());
      assert.ok(
        typeof object === 'object' && object !== null && 'ByteArray' in object && 'IntArray' in object,
      );
      assert.deepEqual([...(object.ByteArray as Uint8Array)], [3]);
      assert.deepEqual(object.IntArray, [1, 2]);
      assert.equal(float, 1.5);
      assert.equal(negative, -1);
    });

    it('returns a buffer that the next write does not overwrite', () => {
      const first = protocol.writeMessage({ type: MessageType.Ack, sequenceId: 1 });
      protocol.writeMessage({ type: MessageType.Ack, sequenceId: 2 });
      assert.equal(toHex(first), '03 92 08 01');
    });

    it('writes a length prefix of two bytes past 127 bytes', () => {
      const bytes = protocol.writeMessage({
        type: MessageType.StreamItem,
        invocationId: '1',
        item: 'x'.repeat(200),
      });
      // [2, {}, "1", str8 of 200 bytes] is a 207-byte body: 207 = 0x4f + 1 * 128.
      assert.equal(toHex(bytes.subarray(0, 2)), 'cf 01');
      assert.deepEqual(parse(bytes), [
        { type: MessageType.StreamItem, invocationId: '1', item: 'x'.repeat(200) },
      ]);
    });

    it('reports what it cannot write', () => {
      assertProtocolError(
        () => protocol.writeMessage({ type: 0 } as unknown as HubMessage),
        'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
        'Unsupported message type: 0.',
      );
      assert.throws(
        () => protocol.writeMessage({ type: MessageType.StreamItem, invocationId: '1', item: () => 1 }),
        (error: unknown) => (error as { code?: string }).code === 'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
      );
    });
  });

  describe('parsing', () => {
    it('accepts the 5-element Invocation and StreamInvocation the JS client writes', () => {
      // [1, {}, "0", "Echo", ["hi"]] and [4, {}, "1", "Count", [3]]
      assert.deepEqual(
        parse(
          Buffer.concat([
            frameBinary(hex('95 01 80 a1 30 a4 45 63 68 6f 91 a2 68 69')),
            frameBinary(hex('95 04 80 a1 31 a5 43 6f 75 6e 74 91 03')),
          ]),
        ),
        [
          { type: MessageType.Invocation, invocationId: '0', target: 'Echo', arguments: ['hi'] },
          { type: MessageType.StreamInvocation, invocationId: '1', target: 'Count', arguments: [3] },
        ],
      );
    });

    it('accepts the 2-element Close the JS client writes', () => {
      assert.deepEqual(parse(hex('03 92 07 c0')), [{ type: MessageType.Close }]);
    });

    it('keeps an empty Close error, as the reference does', () => {
      assert.deepEqual(parse(hex('04 93 07 a0 c2')), [{ type: MessageType.Close, error: '' }]);
    });

    it('treats an empty-string Invocation id as none', () => {
      assert.deepEqual(parse(frameBinary(hex('96 01 80 a0 a1 4d 90 90'))), [
        { type: MessageType.Invocation, target: 'M', arguments: [] },
      ]);
    });

    it('reads a nil Completion error as no error, as the reference does', () => {
      assert.deepEqual(parse(frameBinary(hex('95 03 80 a1 30 01 c0'))), [
        { type: MessageType.Completion, invocationId: '0', hasResult: false },
      ]);
    });

    it('ignores extra trailing elements', () => {
      // [1, {}, "xyz", "method", [], [], true, "ex"]
      assert.deepEqual(
        parse(frameBinary(hex('98 01 80 a3 78 79 7a a6 6d 65 74 68 6f 64 90 90 c3 a2 65 78'))),
        [{ type: MessageType.Invocation, invocationId: 'xyz', target: 'method', arguments: [] }],
      );
      assert.deepEqual(parse(hex('04 93 06 c0 c0')), [{ type: MessageType.Ping }]);
      assert.deepEqual(parse(hex('04 93 08 01 02')), [{ type: MessageType.Ack, sequenceId: 1 }]);
    });

    it('fails on a malformed message before looking at the size of the frames after it', () => {
      // A malformed body, then a frame announcing 301 bytes against a limit of 256: the reference
      // reads message by message, so the first message's error wins, and the bytes give the same
      // error whole or one at a time (found by the fuzzer: framing everything first reported the
      // later frame's size instead).
      const input = Buffer.concat([frameBinary(hex('92 01 c1')), hex('ad 02 96 01')]);
      const code = (fn: () => unknown) => {
        try {
          fn();
        } catch (error) {
          return (error as { code?: string }).code;
        }
        return 'none';
      };
      assert.equal(
        code(() => protocol.parseMessages(input, { maxMessageSize: 256 })),
        'SB_ERR_PROTOCOL_INVALID_MESSAGE',
      );
      let buffer = Buffer.alloc(0);
      const piecewise = code(() => {
        for (const byte of input) {
          buffer = Buffer.concat([buffer, Uint8Array.of(byte)]);
          buffer = buffer.subarray(protocol.parseMessages(buffer, { maxMessageSize: 256 }).consumed);
        }
      });
      assert.equal(piecewise, 'SB_ERR_PROTOCOL_INVALID_MESSAGE');
    });

    it('skips unknown message types and keeps the others', () => {
      assert.deepEqual(parse(hex('03 92 63 80 02 91 06')), [{ type: MessageType.Ping }]);
    });

    it('reads floats and any integer encoding', () => {
      // StreamItem float32 42, Completion float32 42 (reference baselines), Ack with uint16 and uint32.
      assert.deepEqual(
        parse(
          Buffer.concat([
            frameBinary(body('lAKAo3h5espCKAAA')),
            frameBinary(body('lQOAo3h5egPKQigAAA==')),
            hex('05 92 08 cd 01 80 07 92 09 ce 00 01 11 70'),
          ]),
        ),
        [
          { type: MessageType.StreamItem, invocationId: 'xyz', item: 42 },
          { type: MessageType.Completion, invocationId: 'xyz', hasResult: true, result: 42 },
          { type: MessageType.Ack, sequenceId: 384 },
          { type: MessageType.Sequence, sequenceId: 70000 },
        ],
      );
    });

    it('decodes bin as Uint8Array and timestamps as Date', () => {
      // [2, {}, "1", [bin 01 02, 2000-01-01Z]]
      const [message] = parse(frameBinary(hex('94 02 80 a1 31 92 c4 02 01 02 d6 ff 38 6d 43 80')));
      assert.ok(message.type === MessageType.StreamItem && Array.isArray(message.item));
      assert.ok(message.item[0] instanceof Uint8Array);
      assert.deepEqual([...message.item[0]], [1, 2]);
      assert.deepEqual(message.item[1], new Date(Date.UTC(2000, 0, 1)));
    });

    it('keeps a "__proto__" header as a plain header', () => {
      // [5, {"__proto__": "x"}, "1"]
      const [message] = parse(frameBinary(hex('93 05 81 a9 5f 5f 70 72 6f 74 6f 5f 5f a1 78 a1 31')));
      assert.ok(message.type === MessageType.CancelInvocation);
      assert.equal(Object.getPrototypeOf(message.headers), Object.prototype);
      assert.deepEqual(Object.entries(message.headers ?? {}), [['__proto__', 'x']]);
    });

    it('keeps a message split across two buffers until it is whole', () => {
      const whole = hex('02 91 06 11 96 01 80 c0 a7 4d 65 73 73 61 67 65 91 a2 68 69 90');
      for (const cut of [1, 3, 4, 10, whole.length - 1]) {
        const first = protocol.parseMessages(whole.subarray(0, cut));
        const expectedFirst = cut >= 3 ? 3 : 0;
        assert.equal(first.consumed, expectedFirst, `cut at ${cut}`);
        const second = protocol.parseMessages(whole.subarray(first.consumed));
        assert.equal(first.messages.length + second.messages.length, 2, `cut at ${cut}`);
      }
      const partial = protocol.parseMessages(hex('05 01'));
      assert.deepEqual(partial, { messages: [], consumed: 0 });
    });

    it('enforces the maximum message size, the prefix included', () => {
      assert.equal(protocol.parseMessages(hex('04 93 07 c0 c2'), { maxMessageSize: 5 }).messages.length, 1);
      assertProtocolError(
        () => protocol.parseMessages(hex('04 93 07 c0 c2'), { maxMessageSize: 4 }),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        'The maximum message size of 4B was exceeded. The message size can be configured in AddHubOptions.',
      );
    });
  });
});
