// Keep-alive pings and the client timeout (docs/protocol.md#keep-alive).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HubConnectionState } from '@microsoft/signalr';
import { MessageType } from '@switchboard/protocol';
import type { HubServerOptions } from '@switchboard/server';
import { Hub } from '@switchboard/server';
import {
  connectClient,
  deferred,
  ManualTimeProvider,
  RawClient,
  startTestServer,
  waitFor,
} from '@switchboard/testkit';

let gate = deferred();

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
  async slow() {
    await gate.promise;
    return 'done';
  }
}

const CLIENT_TIMEOUT_CLOSE =
  '{"type":7,"error":"Connection closed with an error.","allowReconnect":true}\x1e';

async function withServer(options: HubServerOptions, body: (hubUrl: string) => Promise<void>): Promise<void> {
  const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), options);
  try {
    await body(`${server.baseUrl}/echo`);
  } finally {
    await server.close();
  }
}

/** Lets socket I/O that the manual clock triggered happen. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

describe('keep-alive', () => {
  test('the server pings a client it has sent nothing to for keepAliveIntervalMs', async () => {
    const time = new ManualTimeProvider();
    await withServer({ timeProvider: time, keepAliveIntervalMs: 15_000 }, async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      time.advance(14_000);
      await settle();
      assert.equal(raw.ofType(MessageType.Ping).length, 0, 'no ping before the interval');
      time.advance(1_000);
      await raw.waitForMessage((m) => m.type === MessageType.Ping);
      time.advance(15_000);
      await waitFor(() => raw.ofType(MessageType.Ping).length === 2, 2_000, 'a second ping');
      assert.equal(raw.frames.at(-1)!.data.toString('utf8'), '{"type":6}\x1e');
      raw.close();
      await raw.waitForClose();
    });
  });

  test('with real timers and a small interval the pings keep coming', async () => {
    await withServer({ keepAliveIntervalMs: 30, heartbeatIntervalMs: 10 }, async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      await waitFor(() => raw.ofType(MessageType.Ping).length >= 3, 2_000, 'three pings');
      raw.close();
      await raw.waitForClose();
    });
  });

  test("the official client's server timeout is held off by the pings", async () => {
    await withServer({ keepAliveIntervalMs: 50, heartbeatIntervalMs: 10 }, async (hubUrl) => {
      const client = await connectClient(hubUrl, { noStart: true });
      client.serverTimeoutInMilliseconds = 250;
      let closed: Error | undefined;
      client.onclose((error) => {
        closed = error ?? new Error('closed');
      });
      await client.start();
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal(closed, undefined);
      assert.equal(client.state, HubConnectionState.Connected);
      assert.equal(await client.invoke('echo', 'alive'), 'alive');
      await client.stop();
    });
  });

  test('control: without server pings the same client times out', async () => {
    await withServer({ keepAliveIntervalMs: 60_000, heartbeatIntervalMs: 10 }, async (hubUrl) => {
      const client = await connectClient(hubUrl, { noStart: true });
      client.serverTimeoutInMilliseconds = 150;
      const closed = deferred<Error | undefined>();
      client.onclose((error) => closed.resolve(error));
      await client.start();
      assert.match(
        String(await closed.promise),
        /Server timeout elapsed without receiving a message from the server/,
      );
    });
  });
});

describe('client timeout', () => {
  test('is not armed for a client that never pinged', async () => {
    const time = new ManualTimeProvider();
    await withServer({ timeProvider: time, clientTimeoutIntervalMs: 30_000 }, async (hubUrl) => {
      const raw = await RawClient.connect(hubUrl);
      time.advance(120_000);
      await settle();
      assert.equal(raw.isClosed, false);
      assert.equal(raw.ofType(MessageType.Close).length, 0);
      assert.equal((await raw.invoke('echo', ['still'])).type, MessageType.Completion);
      raw.close();
      await raw.waitForClose();
    });
  });

  test('a client that pinged and went silent gets Close with the error and allowReconnect', async () => {
    const time = new ManualTimeProvider();
    await withServer(
      { timeProvider: time, clientTimeoutIntervalMs: 30_000, keepAliveIntervalMs: 1_000_000 },
      async (hubUrl) => {
        const raw = await RawClient.connect(hubUrl);
        raw.ping();
        await raw.invoke('echo', ['after the ping']); // the server has read the ping
        time.advance(29_000);
        await settle();
        assert.equal(raw.isClosed, false, 'not before the interval');
        time.advance(1_000);
        const close = await raw.waitForClose();
        assert.equal(close.code, 1000);
        assert.equal(raw.frames.at(-1)!.data.toString('utf8'), CLIENT_TIMEOUT_CLOSE);
      },
    );
  });

  test('every message, not only pings, holds the timeout off', async () => {
    const time = new ManualTimeProvider();
    await withServer(
      { timeProvider: time, clientTimeoutIntervalMs: 30_000, keepAliveIntervalMs: 1_000_000 },
      async (hubUrl) => {
        const raw = await RawClient.connect(hubUrl);
        raw.ping();
        for (let i = 0; i < 5; i++) {
          await raw.invoke('echo', [`${i}`]);
          time.advance(20_000);
        }
        await settle();
        assert.equal(raw.isClosed, false);
        raw.close();
        await raw.waitForClose();
      },
    );
  });

  test('does not fire while the connection waits for its own invocations (reading paused)', async () => {
    gate = deferred();
    const time = new ManualTimeProvider();
    await withServer(
      { timeProvider: time, clientTimeoutIntervalMs: 30_000, keepAliveIntervalMs: 1_000_000 },
      async (hubUrl) => {
        const raw = await RawClient.connect(hubUrl);
        raw.ping();
        const first = raw.invoke('slow');
        const second = raw.invoke('slow');
        await settle();
        for (let i = 0; i < 4; i++) {
          raw.ping(); // queued behind the paused reader
          time.advance(20_000);
          await settle();
        }
        assert.equal(raw.isClosed, false, 'the client did nothing wrong: the server stopped reading');
        gate.resolve();
        assert.equal((await first).type, MessageType.Completion);
        assert.equal((await second).type, MessageType.Completion);
        // After the queue drained, the timeout counts from the last read, not from before the pause.
        time.advance(20_000);
        await settle();
        assert.equal(raw.isClosed, false);
        raw.close();
        await raw.waitForClose();
      },
    );
  });

  test('the official client sees the close with the error', async () => {
    await withServer(
      { clientTimeoutIntervalMs: 150, heartbeatIntervalMs: 10, keepAliveIntervalMs: 60_000 },
      async (hubUrl) => {
        const client = await connectClient(hubUrl, { noStart: true });
        client.keepAliveIntervalInMilliseconds = 60_000;
        const closed = deferred<Error | undefined>();
        client.onclose((error) => closed.resolve(error));
        await client.start(); // it pings once right after the handshake, which arms the timeout
        assert.match(
          String(await closed.promise),
          /Server returned an error on close: Connection closed with an error\./,
        );
      },
    );
  });
});
