// The handshake (docs/protocol.md#handshake) and how bytes become messages on the way in
// (docs/protocol.md#frames-are-not-messages, docs/protocol.md#text-framing): frame boundaries are not message
// boundaries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type CompletionMessage,
  type InvocationMessage,
  jsonHubProtocol,
  MessageType,
  messagePackHubProtocol,
} from '@switchboard/protocol';
import { Hub } from '@switchboard/server';
import { ManualTimeProvider, RawClient, startTestServer, type TestServer } from '@switchboard/testkit';

let connected = 0;

class EchoHub extends Hub {
  override onConnected() {
    connected++;
  }
  echo(text: string) {
    return text;
  }
}

class GreetingHub extends Hub {
  override async onConnected() {
    await this.clients.caller.send('welcome', this.context.connectionId);
  }
}

const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const invocation = (id: string, text: string) =>
  `{"type":1,"invocationId":"${id}","target":"echo","arguments":[${JSON.stringify(text)}]}\x1e`;
const resultOf = (m: unknown) => (m as CompletionMessage).result;
const isCompletion = (id: string) => (m: { type: number; invocationId?: string }) =>
  m.type === MessageType.Completion && m.invocationId === id;

/** Sends `handshake` raw and returns the error the server answered with, after the socket closed. */
async function handshakeError(hubUrl: string, handshake: string | Buffer): Promise<string | undefined> {
  const raw = await RawClient.connect(hubUrl, { handshake });
  const response = await raw.handshake();
  const close = await raw.waitForClose();
  assert.equal(close.code, 1000, 'a refused handshake still closes normally');
  assert.equal(raw.frames.length, 1, 'nothing follows the error reply');
  assert.equal(raw.frames[0]!.binary, false);
  return response.error;
}

describe('handshake', () => {
  let server: TestServer;
  let hubUrl: string;
  let detailedUrl: string;
  before(async () => {
    server = await startTestServer((hubs) => {
      hubs.mapHub('/echo', EchoHub);
      hubs.mapHub('/detailed', EchoHub, { enableDetailedErrors: true });
      hubs.mapHub('/small', EchoHub, { maximumReceiveMessageSize: 256 });
      hubs.mapHub('/greeting', GreetingHub);
    });
    hubUrl = `${server.baseUrl}/echo`;
    detailedUrl = `${server.baseUrl}/detailed`;
  });
  after(() => server.close());

  test('success: the reply is exactly {} + 0x1E in a text frame', async () => {
    const raw = await RawClient.connect(hubUrl);
    assert.deepEqual(raw.handshakeResponse, {});
    assert.equal(raw.frames[0]!.data.toString('utf8'), '{}\x1e');
    assert.equal(raw.frames[0]!.binary, false);
    raw.close();
    await raw.waitForClose();
  });

  test('protocol names compare case-insensitively, and version 2 is accepted', async () => {
    for (const handshake of ['{"protocol":"JSON","version":1}\x1e', '{"protocol":"json","version":2}\x1e']) {
      const raw = await RawClient.connect(hubUrl, { handshake });
      assert.deepEqual(await raw.handshake(), {});
      assert.equal(resultOf(await raw.invoke('echo', ['ok'])), 'ok');
      raw.close();
      await raw.waitForClose();
    }
  });

  test('an unknown protocol is refused with the reference text, then closed', async () => {
    const before = connected;
    assert.equal(
      await handshakeError(hubUrl, '{"protocol":"foo","version":1}\x1e'),
      "The protocol 'foo' is not supported.",
    );
    assert.equal(connected, before, 'onConnected never ran');
  });

  test('a protocol the server does not offer is refused; one it offers gets a binary-frame reply', async () => {
    const jsonOnly = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      protocols: [jsonHubProtocol],
    });
    try {
      assert.equal(
        await handshakeError(`${jsonOnly.baseUrl}/echo`, '{"protocol":"messagepack","version":1}\x1e'),
        "The protocol 'messagepack' is not supported.",
      );
    } finally {
      await jsonOnly.close();
    }
    const both = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      protocols: [jsonHubProtocol, messagePackHubProtocol],
    });
    try {
      const raw = await RawClient.connect(`${both.baseUrl}/echo`, {
        handshake: '{"protocol":"messagepack","version":1}\x1e',
      });
      assert.deepEqual(await raw.handshake(), {});
      // The reply goes out in the negotiated protocol's frame type (docs/protocol.md#websocket-frames).
      assert.equal(raw.frames[0]!.binary, true);
      raw.close();
      await raw.waitForClose();
    } finally {
      await both.close();
    }
  });

  test('an unsupported version is refused', async () => {
    assert.equal(
      await handshakeError(hubUrl, '{"protocol":"json","version":3}\x1e'),
      "The server does not support version 3 of the 'json' protocol.",
    );
  });

  test('a malformed handshake: the generic text, details only with enableDetailedErrors', async () => {
    const generic = 'An unexpected error occurred during connection handshake.';
    assert.equal(await handshakeError(hubUrl, 'not json\x1e'), generic);
    assert.equal(await handshakeError(hubUrl, '{"protocol":"json"}\x1e'), generic);
    assert.equal(await handshakeError(hubUrl, '{"protocol":1,"version":1}\x1e'), generic);
    const detailed = await handshakeError(detailedUrl, '{"protocol":"json"}\x1e');
    assert.ok(detailed?.startsWith(`${generic} `), detailed);
    assert.match(detailed!, /Missing required property 'version'\./);
  });

  test('a hub message instead of a handshake is a malformed handshake', async () => {
    assert.equal(
      await handshakeError(hubUrl, invocation('1', 'too early')),
      'An unexpected error occurred during connection handshake.',
    );
  });

  test('a handshake without a separator within the maximum size is canceled', async () => {
    const unterminated = `{"protocol":"json","version":1,"pad":"${'a'.repeat(40_000)}`;
    assert.equal(await handshakeError(hubUrl, unterminated), 'Handshake was canceled.');
    // The same with a small limit, and with a separator that comes too late.
    assert.equal(
      await handshakeError(
        `${server.baseUrl}/small`,
        `{"protocol":"json","version":1,"pad":"${'a'.repeat(300)}"}\x1e`,
      ),
      'Handshake was canceled.',
    );
  });

  test('a handshake within the limit with padding is accepted', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/small`, {
      handshake: `{"protocol":"json","version":1,"pad":"${'a'.repeat(150)}"}\x1e`,
    });
    assert.deepEqual(await raw.handshake(), {});
    raw.close();
    await raw.waitForClose();
  });

  test('the handshake and an invocation in one frame: both are answered', async () => {
    const raw = await RawClient.connect(hubUrl, { handshake: HANDSHAKE + invocation('1', 'batched') });
    assert.deepEqual(await raw.handshake(), {});
    assert.equal(resultOf(await raw.waitForMessage(isCompletion('1'))), 'batched');
    raw.close();
    await raw.waitForClose();
  });

  test('a handshake split across frames', async () => {
    const raw = await RawClient.connect(hubUrl, { handshake: HANDSHAKE.slice(0, 10) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(raw.frames.length, 0, 'no reply to half a handshake');
    raw.sendRaw(HANDSHAKE.slice(10) + invocation('1', 'split'));
    assert.deepEqual(await raw.handshake(), {});
    assert.equal(resultOf(await raw.waitForMessage(isCompletion('1'))), 'split');
    raw.close();
    await raw.waitForClose();
  });

  test('a message split across two frames, even inside a multi-byte character', async () => {
    const raw = await RawClient.connect(hubUrl);
    const bytes = Buffer.from(invocation('1', 'h€llo'), 'utf8');
    const cut = bytes.indexOf(Buffer.from('€', 'utf8')) + 1;
    raw.sendRaw(bytes.subarray(0, cut), true);
    raw.sendRaw(bytes.subarray(cut), true);
    assert.equal(resultOf(await raw.waitForMessage(isCompletion('1'))), 'h€llo');
    raw.close();
    await raw.waitForClose();
  });

  test('several messages in one frame are all handled, in order', async () => {
    const raw = await RawClient.connect(hubUrl);
    raw.sendRaw(`{"type":6}\x1e${invocation('1', 'a')}${invocation('2', 'b')}${invocation('3', 'c')}`);
    const results = await Promise.all(['1', '2', '3'].map((id) => raw.waitForMessage(isCompletion(id))));
    assert.deepEqual(results.map(resultOf), ['a', 'b', 'c']);
    const order = raw.ofType(MessageType.Completion).map((m) => (m as CompletionMessage).invocationId);
    assert.deepEqual(order, ['1', '2', '3']);
    raw.close();
    await raw.waitForClose();
  });

  test('nothing is sent before the handshake reply; onConnected may send right after it', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/greeting`);
    const welcome = (await raw.waitForMessage((m) => m.type === MessageType.Invocation)) as InvocationMessage;
    assert.equal(welcome.target, 'welcome');
    assert.ok(raw.frames[0]!.data.toString('utf8').startsWith('{}\x1e'));
    assert.deepEqual(raw.parseErrors, [], 'every frame held whole messages');
    raw.close();
    await raw.waitForClose();
  });
});

describe('handshake timeout', () => {
  test('a client that never sends its handshake gets "Handshake was canceled." (manual clock)', async () => {
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      timeProvider: time,
      handshakeTimeoutMs: 15_000,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/echo`, { handshake: false });
      time.advance(14_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(raw.frames.length, 0, 'not before the timeout');
      time.advance(1_000);
      assert.deepEqual(await raw.handshake(), { error: 'Handshake was canceled.' });
      assert.equal((await raw.waitForClose()).code, 1000);
      assert.equal(server.hubs.connectionCount, 0);
    } finally {
      await server.close();
    }
  });

  test('with real timers and a small handshakeTimeoutMs', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      handshakeTimeoutMs: 100,
      heartbeatIntervalMs: 20,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/echo`, { handshake: HANDSHAKE.slice(0, 5) });
      assert.deepEqual(await raw.handshake(2_000), { error: 'Handshake was canceled.' });
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });
});
