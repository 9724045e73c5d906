// Cross-checks against the official client's own codecs (@microsoft/signalr 10 and
// @microsoft/signalr-protocol-msgpack 10): what we write, they parse; what they write, we parse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type HubMessage as ClientHubMessage,
  JsonHubProtocol as ClientJsonHubProtocol,
  NullLogger,
} from '@microsoft/signalr';
import { MessagePackHubProtocol as ClientMessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type HubMessage, jsonHubProtocol, MessageType, messagePackHubProtocol } from '@switchboard/protocol';
import { comparable, toArrayBuffer } from './helpers.js';

const clientJson = new ClientJsonHubProtocol();
const clientMessagePack = new ClientMessagePackHubProtocol();
const logger = NullLogger.instance;

const headers = { Foo: 'Bar', 'Key\nWith\r\nBreaks': 'Value' };

/** What a server sends, and the clients act on (docs/protocol.md#message-directions). */
const serverToClient: HubMessage[] = [
  { type: MessageType.Invocation, target: 'Broadcast', arguments: ['hi', 1, null, { a: [true] }] },
  { type: MessageType.Invocation, invocationId: 's1', target: 'Result', arguments: [] },
  { type: MessageType.Invocation, target: 'WithHeaders', arguments: [], headers },
  { type: MessageType.StreamItem, invocationId: '1', item: 42 },
  { type: MessageType.StreamItem, invocationId: '1', item: null },
  { type: MessageType.Completion, invocationId: '0', hasResult: false },
  { type: MessageType.Completion, invocationId: '0', hasResult: true, result: 'done' },
  { type: MessageType.Completion, invocationId: '0', hasResult: true, result: 0 },
  {
    type: MessageType.Completion,
    invocationId: '0',
    hasResult: false,
    error: 'An unexpected error occurred.',
  },
  { type: MessageType.Ping },
  { type: MessageType.Close },
  { type: MessageType.Close, error: 'Connection closed with an error.', allowReconnect: true },
  { type: MessageType.Ack, sequenceId: 3 },
  { type: MessageType.Sequence, sequenceId: 1 },
];

/** What a client sends (docs/protocol.md#message-directions), built as client messages. */
const clientToServer: HubMessage[] = [
  { type: MessageType.Invocation, target: 'Send', arguments: ['hi'] },
  { type: MessageType.Invocation, invocationId: '0', target: 'Echo', arguments: ['hi'] },
  { type: MessageType.Invocation, invocationId: '2', target: 'Upload', arguments: [1], streamIds: ['1'] },
  { type: MessageType.StreamInvocation, invocationId: '3', target: 'Counter', arguments: [10, 100] },
  {
    type: MessageType.StreamInvocation,
    invocationId: '5',
    target: 'Counter',
    arguments: [],
    streamIds: ['4'],
  },
  { type: MessageType.StreamItem, invocationId: '1', item: 'chunk' },
  { type: MessageType.Completion, invocationId: '1', hasResult: false },
  { type: MessageType.Completion, invocationId: 's1', hasResult: true, result: { value: 42 } },
  {
    type: MessageType.Completion,
    invocationId: 's2',
    hasResult: false,
    error: "Client didn't provide a result.",
  },
  { type: MessageType.CancelInvocation, invocationId: '3' },
  { type: MessageType.Ping },
  { type: MessageType.Close },
  { type: MessageType.Ack, sequenceId: 7 },
  { type: MessageType.Sequence, sequenceId: 2 },
];

/** Our message in the client's shape: the clients have no `hasResult`. */
function asClientMessage(message: HubMessage): ClientHubMessage {
  return comparable(message) as unknown as ClientHubMessage;
}

describe('interop with @microsoft/signalr JsonHubProtocol', () => {
  for (const message of serverToClient) {
    it(`the client parses our ${JSON.stringify(message)}`, () => {
      const text = jsonHubProtocol.writeMessage(message).toString('utf8');
      const parsed = clientJson.parseMessages(text, logger);
      assert.equal(parsed.length, 1);
      assert.deepEqual(comparable(parsed[0]), comparable(message));
    });
  }

  for (const message of clientToServer) {
    it(`we parse the client's ${JSON.stringify(message)}`, () => {
      const text = clientJson.writeMessage(asClientMessage(message));
      const { messages, consumed } = jsonHubProtocol.parseMessages(Buffer.from(text));
      assert.equal(consumed, Buffer.byteLength(text));
      assert.deepEqual(messages, [message]);
    });
  }

  it('we parse a batch the client wrote, type last as its HubConnection builds messages', () => {
    const invocation = { target: 'Echo', arguments: ['hi'], invocationId: '0', type: 1 } as ClientHubMessage;
    const text =
      clientJson.writeMessage(invocation) + clientJson.writeMessage({ type: 6 } as ClientHubMessage);
    assert.equal(
      text,
      '{"target":"Echo","arguments":["hi"],"invocationId":"0","type":1}\u001e{"type":6}\u001e',
    );
    assert.deepEqual(jsonHubProtocol.parseMessages(Buffer.from(text)).messages, [
      clientToServer[1],
      { type: 6 },
    ]);
  });
});

describe('interop with @microsoft/signalr-protocol-msgpack MessagePackHubProtocol', () => {
  for (const message of serverToClient) {
    it(`the client parses our ${JSON.stringify(message)}`, () => {
      const parsed = clientMessagePack.parseMessages(
        toArrayBuffer(messagePackHubProtocol.writeMessage(message)),
        logger,
      );
      assert.equal(parsed.length, 1);
      assert.deepEqual(comparable(parsed[0]), comparable(message));
    });
  }

  it('the client decodes bin and dates we write as it would its own', () => {
    const date = new Date(Date.UTC(2000, 0, 1));
    const message: HubMessage = {
      type: MessageType.Invocation,
      target: 'M',
      arguments: [Uint8Array.of(1, 2), date],
    };
    const ours = Buffer.from(messagePackHubProtocol.writeMessage(message));
    const theirs = Buffer.from(clientMessagePack.writeMessage(asClientMessage(message)) as ArrayBuffer);
    // The client writes 5 elements when there are no stream ids; the bodies differ only there.
    assert.deepEqual(ours.subarray(1, -1), Buffer.concat([Buffer.of(0x96), theirs.subarray(2)]));
    const [parsed] = clientMessagePack.parseMessages(toArrayBuffer(ours), logger);
    assert.ok(parsed.type === 1);
    assert.deepEqual([...(parsed.arguments[0] as Uint8Array)], [1, 2]);
    assert.deepEqual(parsed.arguments[1], date);
  });

  for (const message of clientToServer) {
    it(`we parse the client's ${JSON.stringify(message)}`, () => {
      const bytes = new Uint8Array(clientMessagePack.writeMessage(asClientMessage(message)) as ArrayBuffer);
      const { messages, consumed } = messagePackHubProtocol.parseMessages(bytes);
      assert.equal(consumed, bytes.length);
      // The client's Close is [7, nil]: it never sends an error or allowReconnect.
      assert.deepEqual(messages, [message]);
    });
  }
});
