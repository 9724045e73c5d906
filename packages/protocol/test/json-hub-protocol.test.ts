import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HubMessage, JsonHubProtocol, jsonHubProtocol, MessageType } from '@switchboard/protocol';
import { assertProtocolError, frameText } from './helpers.js';

// Headers with line breaks in a key and in a value: the JSON escapes must survive both ways.
const headers = {
  Foo: 'Bar',
  'KeyWith\nNew\r\nLines': 'Still Works',
  ValueWithNewLines: 'Also\nWorks\r\nFine',
};
const headersJson =
  '"headers":{"Foo":"Bar","KeyWith\\nNew\\r\\nLines":"Still Works","ValueWithNewLines":"Also\\nWorks\\r\\nFine"}';

/** Messages and the exact JSON the reference writes for them (property order included). */
const fixtures: Array<[string, HubMessage, string]> = [
  [
    'Invocation with an id',
    { type: MessageType.Invocation, invocationId: '123', target: 'Target', arguments: [1, 'Foo'] },
    '{"type":1,"invocationId":"123","target":"Target","arguments":[1,"Foo"]}',
  ],
  [
    'non-blocking Invocation with a bool',
    { type: MessageType.Invocation, target: 'Target', arguments: [true] },
    '{"type":1,"target":"Target","arguments":[true]}',
  ],
  [
    'Invocation with a null argument',
    { type: MessageType.Invocation, target: 'Target', arguments: [null] },
    '{"type":1,"target":"Target","arguments":[null]}',
  ],
  [
    'Invocation with no arguments',
    { type: MessageType.Invocation, target: 'Target', arguments: [] },
    '{"type":1,"target":"Target","arguments":[]}',
  ],
  [
    'Invocation with a stream and a normal argument',
    { type: MessageType.Invocation, target: 'Target', arguments: [42], streamIds: ['__test_id__'] },
    '{"type":1,"target":"Target","arguments":[42],"streamIds":["__test_id__"]}',
  ],
  [
    'Invocation with two streams',
    {
      type: MessageType.Invocation,
      target: 'Target',
      arguments: [],
      streamIds: ['__test_id__', '__test_id2__'],
    },
    '{"type":1,"target":"Target","arguments":[],"streamIds":["__test_id__","__test_id2__"]}',
  ],
  [
    'Invocation with non-ASCII text, written raw',
    { type: MessageType.Invocation, target: 'Method', arguments: ['מחרוזת כלשהי'] },
    '{"type":1,"target":"Method","arguments":["מחרוזת כלשהי"]}',
  ],
  [
    'Invocation with an object argument',
    {
      type: MessageType.Invocation,
      target: 'Target',
      arguments: [{ stringProp: 'SignalR!', nullProp: null, n: 6.2831853071 }],
    },
    '{"type":1,"target":"Target","arguments":[{"stringProp":"SignalR!","nullProp":null,"n":6.2831853071}]}',
  ],
  [
    'Invocation with headers',
    { type: MessageType.Invocation, invocationId: '1', target: 'T', arguments: [], headers },
    `{"type":1,${headersJson},"invocationId":"1","target":"T","arguments":[]}`,
  ],
  [
    'StreamItem with an integer',
    { type: MessageType.StreamItem, invocationId: '123', item: 1 },
    '{"type":2,"invocationId":"123","item":1}',
  ],
  [
    'StreamItem with a string',
    { type: MessageType.StreamItem, invocationId: '123', item: 'Foo' },
    '{"type":2,"invocationId":"123","item":"Foo"}',
  ],
  [
    'StreamItem with null, still written',
    { type: MessageType.StreamItem, invocationId: '123', item: null },
    '{"type":2,"invocationId":"123","item":null}',
  ],
  [
    'StreamItem with headers',
    { type: MessageType.StreamItem, invocationId: '123', item: true, headers },
    `{"type":2,${headersJson},"invocationId":"123","item":true}`,
  ],
  [
    'void Completion',
    { type: MessageType.Completion, invocationId: '123', hasResult: false },
    '{"type":3,"invocationId":"123"}',
  ],
  [
    'Completion with an integer',
    { type: MessageType.Completion, invocationId: '123', hasResult: true, result: 1 },
    '{"type":3,"invocationId":"123","result":1}',
  ],
  [
    'Completion with a string',
    { type: MessageType.Completion, invocationId: '123', hasResult: true, result: 'Foo' },
    '{"type":3,"invocationId":"123","result":"Foo"}',
  ],
  [
    'Completion with a null result, still written',
    { type: MessageType.Completion, invocationId: '123', hasResult: true, result: null },
    '{"type":3,"invocationId":"123","result":null}',
  ],
  [
    'Completion with an error',
    { type: MessageType.Completion, invocationId: '123', hasResult: false, error: 'Whoops!' },
    '{"type":3,"invocationId":"123","error":"Whoops!"}',
  ],
  [
    'Completion with an error and headers',
    { type: MessageType.Completion, invocationId: '123', hasResult: false, error: 'Whoops!', headers },
    `{"type":3,${headersJson},"invocationId":"123","error":"Whoops!"}`,
  ],
  [
    'StreamInvocation',
    { type: MessageType.StreamInvocation, invocationId: '123', target: 'Target', arguments: [1, 'Foo'] },
    '{"type":4,"invocationId":"123","target":"Target","arguments":[1,"Foo"]}',
  ],
  [
    'StreamInvocation with a stream argument',
    {
      type: MessageType.StreamInvocation,
      invocationId: '123',
      target: 'Target',
      arguments: [],
      streamIds: ['__test_id__'],
    },
    '{"type":4,"invocationId":"123","target":"Target","arguments":[],"streamIds":["__test_id__"]}',
  ],
  [
    'CancelInvocation',
    { type: MessageType.CancelInvocation, invocationId: '123' },
    '{"type":5,"invocationId":"123"}',
  ],
  [
    'CancelInvocation with headers',
    { type: MessageType.CancelInvocation, invocationId: '123', headers },
    `{"type":5,${headersJson},"invocationId":"123"}`,
  ],
  ['Ping', { type: MessageType.Ping }, '{"type":6}'],
  ['Close', { type: MessageType.Close }, '{"type":7}'],
  ['Close with an error', { type: MessageType.Close, error: 'Error!' }, '{"type":7,"error":"Error!"}'],
  [
    'Close allowing reconnect',
    { type: MessageType.Close, allowReconnect: true },
    '{"type":7,"allowReconnect":true}',
  ],
  [
    'Close with an error, allowing reconnect',
    { type: MessageType.Close, error: 'Error!', allowReconnect: true },
    '{"type":7,"error":"Error!","allowReconnect":true}',
  ],
  ['Ack', { type: MessageType.Ack, sequenceId: 42 }, '{"type":8,"sequenceId":42}'],
  ['Sequence', { type: MessageType.Sequence, sequenceId: 146 }, '{"type":9,"sequenceId":146}'],
];

describe('JsonHubProtocol', () => {
  it('describes itself as json version 2 over text', () => {
    assert.equal(jsonHubProtocol.name, 'json');
    assert.equal(jsonHubProtocol.version, 2);
    assert.equal(jsonHubProtocol.transferFormat, 'Text');
    assert.ok(jsonHubProtocol instanceof JsonHubProtocol);
  });

  describe('writes and parses each message type', () => {
    for (const [name, message, json] of fixtures) {
      it(name, () => {
        assert.equal(jsonHubProtocol.writeMessage(message).toString('utf8'), `${json}\u001e`);
        assert.deepEqual(jsonHubProtocol.parseMessages(frameText(json)), {
          messages: [message],
          consumed: Buffer.byteLength(json) + 1,
        });
      });
    }
  });

  describe('write rules (docs/protocol.md#json-writing)', () => {
    const write = (message: HubMessage) => jsonHubProtocol.writeMessage(message).toString('utf8');

    it('omits an empty invocation id, empty headers and empty stream ids', () => {
      assert.equal(
        write({
          type: MessageType.Invocation,
          invocationId: '',
          target: 'T',
          arguments: [],
          headers: {},
          streamIds: [],
        }),
        '{"type":1,"target":"T","arguments":[]}\u001e',
      );
    });

    it('writes an undefined item or result as null', () => {
      assert.equal(
        write({ type: MessageType.StreamItem, invocationId: '1', item: undefined }),
        '{"type":2,"invocationId":"1","item":null}\u001e',
      );
      assert.equal(
        write({ type: MessageType.Completion, invocationId: '1', hasResult: true }),
        '{"type":3,"invocationId":"1","result":null}\u001e',
      );
    });

    it('prefers a non-empty error over a result, and ignores an empty error', () => {
      assert.equal(
        write({ type: MessageType.Completion, invocationId: '1', hasResult: true, result: 5, error: 'e' }),
        '{"type":3,"invocationId":"1","error":"e"}\u001e',
      );
      assert.equal(
        write({ type: MessageType.Completion, invocationId: '1', hasResult: true, result: 5, error: '' }),
        '{"type":3,"invocationId":"1","result":5}\u001e',
      );
      assert.equal(
        write({ type: MessageType.Completion, invocationId: '1', hasResult: false, error: '' }),
        '{"type":3,"invocationId":"1"}\u001e',
      );
    });

    it('writes a Close error only when non-empty and allowReconnect only when true', () => {
      assert.equal(write({ type: MessageType.Close, error: '', allowReconnect: false }), '{"type":7}\u001e');
    });

    it('escapes the record separator and writes dates as ISO strings', () => {
      assert.equal(
        write({
          type: MessageType.Invocation,
          target: 'T',
          arguments: ['a\u001eb', new Date(Date.UTC(2000, 0, 1))],
        }),
        '{"type":1,"target":"T","arguments":["a\\u001eb","2000-01-01T00:00:00.000Z"]}\u001e',
      );
    });

    it('reports a payload JSON cannot carry', () => {
      assert.throws(
        () => write({ type: MessageType.Invocation, target: 'T', arguments: [1n] }),
        (error: unknown) =>
          error instanceof Error &&
          (error as { code?: string }).code === 'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE' &&
          error.message.startsWith('Failed to serialize a message of type 1: '),
      );
      assertProtocolError(
        () => write({ type: 42 } as unknown as HubMessage),
        'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
        'Unsupported message type: 42.',
      );
    });
  });

  describe('parsing', () => {
    const parse = (...texts: string[]) => jsonHubProtocol.parseMessages(frameText(...texts)).messages;

    it('reads the JS client form, with type last', () => {
      assert.deepEqual(parse('{"target":"Echo","arguments":["hi"],"invocationId":"0","type":1}'), [
        { type: MessageType.Invocation, invocationId: '0', target: 'Echo', arguments: ['hi'] },
      ]);
    });

    it('reads properties in any order, with whitespace', () => {
      assert.deepEqual(
        parse(
          '{ "arguments": [1,2], "type":1, "target": "Method" }',
          '{ "type":4, "arguments": [1,2], "target": "Method", "invocationId": "3" }',
          '{ "type":3, "result": 10, "invocationId": "15" }',
          '{ "item": "foo", "invocationId": "1a", "type":2 }',
        ),
        [
          { type: MessageType.Invocation, target: 'Method', arguments: [1, 2] },
          { type: MessageType.StreamInvocation, invocationId: '3', target: 'Method', arguments: [1, 2] },
          { type: MessageType.Completion, invocationId: '15', hasResult: true, result: 10 },
          { type: MessageType.StreamItem, invocationId: '1a', item: 'foo' },
        ],
      );
    });

    it('parses the same with utf8Validated (bytes from text WebSocket messages), incomplete tail kept', () => {
      const input = Buffer.concat([
        frameText(
          '{"type":1,"invocationId":"7","target":"Send","arguments":["héllo wörld ✓ 🙂",{"k":[1,null]}]}',
          '{"type":3,"invocationId":"8","error":"nope"}',
          '{"type":6}',
        ),
        Buffer.from('{"type":1,"targ'),
      ]);
      const plain = jsonHubProtocol.parseMessages(input, { maxMessageSize: 1024 });
      const validated = jsonHubProtocol.parseMessages(input, { maxMessageSize: 1024, utf8Validated: true });
      assert.deepEqual(validated, plain);
      assert.equal(validated.messages.length, 3);
      assert.equal(validated.consumed, input.length - '{"type":1,"targ'.length);
      assert.throws(
        () => jsonHubProtocol.parseMessages(input, { maxMessageSize: 40, utf8Validated: true }),
        /exceeds the maximum message size|maximum message size/i,
      );
    });

    it('treats an empty invocation id on an Invocation as none', () => {
      assert.deepEqual(parse('{"type":1,"invocationId":"","target":"T","arguments":[]}'), [
        { type: MessageType.Invocation, target: 'T', arguments: [] },
      ]);
    });

    it('skips unknown properties and unknown message types', () => {
      assert.deepEqual(
        parse(
          '{"type":1,"invocationId":"42","target":"foo","arguments":[],"extraParameter":"1"}',
          '{"type":99,"x":1}',
          '{"type":6}',
        ),
        [
          { type: MessageType.Invocation, invocationId: '42', target: 'foo', arguments: [] },
          { type: MessageType.Ping },
        ],
      );
    });

    it('tells a null result from an absent one, and keeps an empty error', () => {
      assert.deepEqual(
        parse(
          '{"type":3,"invocationId":"1","result":null}',
          '{"type":3,"invocationId":"1"}',
          '{"type":3,"invocationId":"1","error":""}',
        ),
        [
          { type: MessageType.Completion, invocationId: '1', hasResult: true, result: null },
          { type: MessageType.Completion, invocationId: '1', hasResult: false },
          { type: MessageType.Completion, invocationId: '1', hasResult: false, error: '' },
        ],
      );
    });

    it('drops empty headers and stream ids, and ignores headers on Ping and Close', () => {
      assert.deepEqual(
        parse(
          '{"type":1,"target":"T","arguments":[],"headers":{},"streamIds":[]}',
          '{"type":6,"headers":{"a":"b"}}',
          '{"type":7,"headers":{"a":"b"},"error":""}',
        ),
        [
          { type: MessageType.Invocation, target: 'T', arguments: [] },
          { type: MessageType.Ping },
          { type: MessageType.Close, error: '' },
        ],
      );
    });

    it('keeps a "__proto__" header as a plain header', () => {
      const [message] = parse('{"type":5,"invocationId":"1","headers":{"__proto__":"x"}}');
      assert.ok(message.type === MessageType.CancelInvocation);
      assert.equal(Object.getPrototypeOf(message.headers), Object.prototype);
      assert.deepEqual(Object.entries(message.headers ?? {}), [['__proto__', 'x']]);
    });

    it('parses several messages from one buffer', () => {
      const input = frameText('{"type":6}', '{"type":8,"sequenceId":1}', '{"type":7}');
      const { messages, consumed } = jsonHubProtocol.parseMessages(input);
      assert.deepEqual(messages, [
        { type: MessageType.Ping },
        { type: MessageType.Ack, sequenceId: 1 },
        { type: MessageType.Close },
      ]);
      assert.equal(consumed, input.length);
    });

    it('keeps a message split across two buffers until it is whole', () => {
      const whole = frameText('{"type":6}', '{"type":1,"target":"Send","arguments":["héllo"]}');
      // Split inside the second message, in the middle of a multi-byte character.
      const cut = whole.indexOf(0xc3) + 1;
      const first = jsonHubProtocol.parseMessages(whole.subarray(0, cut));
      assert.deepEqual(first.messages, [{ type: MessageType.Ping }]);
      assert.equal(first.consumed, 11);
      const rest = jsonHubProtocol.parseMessages(whole.subarray(11, cut));
      assert.deepEqual(rest, { messages: [], consumed: 0 });
      const second = jsonHubProtocol.parseMessages(
        Buffer.concat([whole.subarray(11, cut), whole.subarray(cut)]),
      );
      assert.deepEqual(second.messages, [
        { type: MessageType.Invocation, target: 'Send', arguments: ['héllo'] },
      ]);
      assert.equal(second.consumed, whole.length - 11);
    });

    it('accepts a plain Uint8Array as well as a Buffer', () => {
      const bytes = new Uint8Array(frameText('{"type":6}'));
      assert.deepEqual(jsonHubProtocol.parseMessages(bytes).messages, [{ type: MessageType.Ping }]);
    });

    it('enforces the maximum message size', () => {
      const input = frameText('{"type":6}', '{"type":1,"target":"T","arguments":["long"]}');
      assertProtocolError(
        () => jsonHubProtocol.parseMessages(input, { maxMessageSize: 11 }),
        'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
        'The maximum message size of 11B was exceeded. The message size can be configured in AddHubOptions.',
      );
      assert.equal(jsonHubProtocol.parseMessages(input.subarray(0, 20), { maxMessageSize: 11 }).consumed, 11);
    });
  });
});
