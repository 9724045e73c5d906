// Close semantics (docs/protocol.md#websocket-close, docs/protocol.md#close): who closes, what Close message
// goes out, the WebSocket code, onDisconnected exactly once, and a draining shutdown.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { MessageType } from '@switchboard/protocol';
import { Hub } from '@switchboard/server';
import {
  connectClient,
  deferred,
  ManualTimeProvider,
  RawClient,
  startTestServer,
  waitFor,
} from '@switchboard/testkit';

const disconnects: { id: string; error: Error | undefined }[] = [];
let hangDisconnect: Promise<void> | undefined;

class CloseHub extends Hub {
  echo(text: string) {
    return text;
  }
  quit() {
    this.context.abort();
  }
  override async onDisconnected(error?: Error) {
    disconnects.push({ id: this.context.connectionId, error });
    if (hangDisconnect) await hangDisconnect;
  }
}

const disconnectsOf = (id: string | undefined | null) => disconnects.filter((d) => d.id === id);
const frameText = (raw: RawClient, index = -1) => raw.frames.at(index)!.data.toString('utf8');

async function withServer(body: (hubUrl: string) => Promise<void>): Promise<void> {
  const server = await startTestServer((hubs) => hubs.mapHub('/close', CloseHub));
  try {
    await body(`${server.baseUrl}/close`);
  } finally {
    await server.close();
  }
}

describe('server-initiated close', () => {
  test('abort() sends {"type":7} without allowReconnect, then WebSocket 1000', async () => {
    await withServer(async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      raw.send({ type: MessageType.Invocation, target: 'quit', arguments: [] });
      const close = await raw.waitForClose();
      assert.equal(close.code, 1000);
      assert.equal(frameText(raw), '{"type":7}\x1e');
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
    });
  });

  test('after abort() the official client with automatic reconnect stops for good', async () => {
    await withServer(async (hubUrl) => {
      const client = new HubConnectionBuilder()
        .withUrl(hubUrl)
        .withAutomaticReconnect()
        .configureLogging(LogLevel.None)
        .build();
      let reconnecting = false;
      client.onreconnecting(() => {
        reconnecting = true;
      });
      const closed = deferred<Error | undefined>();
      client.onclose((error) => closed.resolve(error));
      await client.start();
      await client.send('quit');
      assert.equal(await closed.promise, undefined);
      assert.equal(reconnecting, false);
    });
  });
});

describe('HubServer.close()', () => {
  test('drains: Close with allowReconnect, WebSocket 1000, close() resolves, no timer is left', async () => {
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/close', CloseHub), { timeProvider: time });
    const hubUrl = `${server.baseUrl}/close`;
    const raw = await RawClient.connect(hubUrl);
    const client = new HubConnectionBuilder()
      .withUrl(hubUrl)
      .withAutomaticReconnect([0, 60_000])
      .configureLogging(LogLevel.None)
      .build();
    const reconnecting = deferred<Error | undefined>();
    client.onreconnecting((error) => reconnecting.resolve(error));
    await client.start();
    assert.ok(time.pendingTimers > 0, 'the heartbeat runs');
    await server.hubs.close();
    assert.equal((await raw.waitForClose()).code, 1000);
    assert.equal(frameText(raw), '{"type":7,"allowReconnect":true}\x1e');
    // allowReconnect sends the official client into its reconnect loop rather than onclose.
    assert.equal(await reconnecting.promise, undefined);
    await waitFor(() => time.pendingTimers === 0, 2_000, 'every server timer to be cancelled');
    assert.equal(server.hubs.connectionCount, 0);
    await client.stop();
    await server.close();
  });

  test('new connections are refused while draining and after', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/close', CloseHub));
    await server.hubs.close();
    const reply = await fetch(`${server.baseUrl}/close/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(reply.status, 503);
    await reply.arrayBuffer();
    await server.close();
  });

  test('close() does not wait beyond drainTimeoutMs for a connection that will not end', async () => {
    const hang = deferred();
    hangDisconnect = hang.promise;
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/close', CloseHub), {
      timeProvider: time,
      drainTimeoutMs: 5_000,
    });
    try {
      await RawClient.connect(`${server.baseUrl}/close`);
      let done = false;
      const closing = server.hubs.close().then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(done, false, 'waits for onDisconnected');
      time.advance(5_000);
      await closing;
      assert.equal(time.pendingTimers, 0);
    } finally {
      hangDisconnect = undefined;
      hang.resolve();
      await server.close();
    }
  });

  test('with real timers the server leaves nothing behind (close() twice is harmless)', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/close', CloseHub), {
      heartbeatIntervalMs: 10,
    });
    const client = await connectClient(`${server.baseUrl}/close`);
    const closed = deferred<Error | undefined>();
    client.onclose((error) => closed.resolve(error));
    await Promise.all([server.hubs.close(), server.hubs.close()]);
    // Without automatic reconnect, allowReconnect does not matter: the client reports the close.
    await closed.promise;
    await server.close();
  });
});

describe('client-initiated close', () => {
  test('a raw Close message is answered with {"type":7} and 1000; onDisconnected runs once, without error', async () => {
    await withServer(async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      raw.send({ type: MessageType.Close });
      assert.equal((await raw.waitForClose()).code, 1000);
      assert.equal(frameText(raw), '{"type":7}\x1e');
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(disconnectsOf(raw.connectionId).length, 1);
      assert.equal(disconnectsOf(raw.connectionId)[0]!.error, undefined);
    });
  });

  test('a client Close with an error reaches onDisconnected as that error', async () => {
    await withServer(async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      raw.send({ type: MessageType.Close, error: 'client went away' });
      await raw.waitForClose();
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
      assert.equal(disconnectsOf(raw.connectionId)[0]!.error?.message, 'client went away');
    });
  });

  test('official client stop(): onDisconnected once, without error; the client sees a clean close', async () => {
    await withServer(async (hubUrl) => {
      const client = await connectClient(hubUrl);
      const id = client.connectionId;
      const closed = deferred<Error | undefined>();
      client.onclose((error) => closed.resolve(error));
      await client.stop();
      assert.equal(await closed.promise, undefined);
      await waitFor(() => disconnectsOf(id).length === 1, 2_000, 'onDisconnected');
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(disconnectsOf(id).length, 1);
      assert.equal(disconnectsOf(id)[0]!.error, undefined);
    });
  });

  test('a close frame without a code (1005) is a clean end', async () => {
    await withServer(async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      raw.ws.close();
      await raw.waitForClose();
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
      assert.equal(disconnectsOf(raw.connectionId)[0]!.error, undefined);
    });
  });

  test('a clean close with half a message left reaches onDisconnected as an error', async () => {
    await withServer(async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      raw.sendRaw('{"type":1,"target":"echo","argu');
      raw.close();
      await raw.waitForClose();
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
      assert.equal(
        disconnectsOf(raw.connectionId)[0]!.error?.message,
        'Connection terminated while reading a message.',
      );
    });
  });

  test('a frame over maxWebSocketFrameSize: ws closes with 1009 and onDisconnected gets an error', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/close', CloseHub), {
      maxWebSocketFrameSize: 1024,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/close`);
      raw.sendRaw(`{"type":1,"target":"echo","arguments":["${'x'.repeat(2_000)}"]}\x1e`);
      assert.equal((await raw.waitForClose()).code, 1009);
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
      assert.match(String(disconnectsOf(raw.connectionId)[0]!.error?.message), /Max payload size exceeded/);
    } finally {
      await server.close();
    }
  });

  test('a dropped socket (no close frame) ends the connection with an error, once', async () => {
    await withServer(async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      raw.terminate();
      await waitFor(() => disconnectsOf(raw.connectionId).length === 1, 2_000, 'onDisconnected');
      assert.ok(disconnectsOf(raw.connectionId)[0]!.error instanceof Error);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(disconnectsOf(raw.connectionId).length, 1);
    });
  });
});
