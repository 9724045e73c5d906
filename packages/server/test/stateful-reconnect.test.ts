// Stateful reconnect (docs/protocol.md#stateful-reconnect): negotiate and handshake opt-in, the
// numbering, Acks and replay on the wire, and the official client's `withStatefulReconnect()`
// riding over a WebSocket cut without losing or repeating a message either way.
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type HubMessage, MessageType } from '@switchboard/protocol';
import { Hub, SwitchboardError } from '@switchboard/server';
import {
  connectClient,
  deferred,
  negotiate,
  RawClient,
  startTestServer,
  type TestServer,
  UpgradeRefusedError,
  waitFor,
} from '@switchboard/testkit';

const recorded = new Map<string, number[]>();
const disconnects: { id: string; error: Error | undefined }[] = [];

class StatefulHub extends Hub {
  record(n: number) {
    const list = recorded.get(this.context.connectionId) ?? [];
    list.push(n);
    recorded.set(this.context.connectionId, list);
  }
  echo(value: unknown) {
    return value;
  }
  id() {
    return this.context.connectionId;
  }
  override onDisconnected(error?: Error) {
    disconnects.push({ id: this.context.connectionId, error });
  }
}

const disconnectsOf = (id: string | null | undefined) => disconnects.filter((d) => d.id === id);

let server: TestServer;
/** The server side of every WebSocket upgrade, to cut them without a close frame. */
const upgradeSockets: Duplex[] = [];
let upgrades = 0;
let hubUrl: string;

before(async () => {
  server = await startTestServer(
    (hubs) => {
      hubs.mapHub('/stateful', StatefulHub, { allowStatefulReconnects: true });
      hubs.mapHub('/classic', StatefulHub);
      hubs.mapHub('/stateful-small', StatefulHub, {
        allowStatefulReconnects: true,
        statefulReconnectBufferSize: 1_000,
        sendTimeoutMs: 300,
      });
      hubs.mapHub('/stateful-no-ws', StatefulHub, {
        allowStatefulReconnects: true,
        transports: ['ServerSentEvents', 'LongPolling'],
      });
    },
    { heartbeatIntervalMs: 100, disconnectTimeoutMs: 1_500 },
  );
  server.http.on('upgrade', (_req, socket: Duplex) => {
    upgrades++;
    upgradeSockets.push(socket);
  });
  hubUrl = `${server.baseUrl}/stateful`;
});
after(() => server.close());

/** Cuts every open server-side WebSocket: the peer sees 1006, no close frame. */
function cutWebSockets(): void {
  for (const socket of upgradeSockets.splice(0)) socket.destroy();
}

// ---- negotiate --------------------------------------------------------------------------------

describe('negotiate', () => {
  test('a client that asks gets useStatefulReconnect when the hub allows it (query key in any case)', async () => {
    const asked = await negotiate(hubUrl, 'negotiateVersion=1&useStatefulReconnect=true');
    assert.equal(asked.json?.useStatefulReconnect, true);
    assert.ok(asked.text.startsWith('{"useStatefulReconnect":true,'), asked.text);
    const otherCase = await negotiate(hubUrl, 'negotiateVersion=1&UseStatefulReconnect=True');
    assert.equal(otherCase.json?.useStatefulReconnect, true);
  });

  test('a client that does not ask gets none', async () => {
    const reply = await negotiate(hubUrl, 'negotiateVersion=1');
    assert.equal(reply.json?.useStatefulReconnect, undefined);
    const no = await negotiate(hubUrl, 'negotiateVersion=1&useStatefulReconnect=false');
    assert.equal(no.json?.useStatefulReconnect, undefined);
  });

  test('a hub without allowStatefulReconnects (the default) offers none', async () => {
    const reply = await negotiate(
      `${server.baseUrl}/classic`,
      'negotiateVersion=1&useStatefulReconnect=true',
    );
    assert.equal(reply.status, 200);
    assert.equal(reply.json?.useStatefulReconnect, undefined);
  });

  test('a hub without WebSockets offers none', async () => {
    const reply = await negotiate(
      `${server.baseUrl}/stateful-no-ws`,
      'negotiateVersion=1&useStatefulReconnect=true',
    );
    assert.equal(reply.json?.useStatefulReconnect, undefined);
  });
});

// ---- the wire -------------------------------------------------------------------------------

/** A raw client on a stateful connection (negotiated, handshake version `version`). */
async function statefulRaw(
  version = 2,
  url = hubUrl,
): Promise<{ raw: RawClient; token: string; id: string }> {
  const reply = await negotiate(url, 'negotiateVersion=1&useStatefulReconnect=true');
  const token = reply.json!.connectionToken as string;
  const id = reply.json!.connectionId as string;
  const raw = await RawClient.connect(url, {
    id: token,
    handshake: `{"protocol":"json","version":${version}}\x1e`,
  });
  const response = await raw.handshake();
  assert.equal(response.error, undefined);
  return { raw, token, id };
}

const isCompletion = (id: string) => (m: HubMessage) =>
  m.type === MessageType.Completion && m.invocationId === id;
const invocation = (invocationId: string, target: string, args: unknown[]): HubMessage => ({
  type: MessageType.Invocation,
  invocationId,
  target,
  arguments: args,
});

/** Reconnects a raw client with the same token, as the official client does after a drop. */
async function resumeRaw(url: string, token: string): Promise<RawClient> {
  return RawClient.connect(url, { id: token, resumed: true });
}

describe('on the wire', () => {
  test('the server acknowledges what it received on its heartbeat', async () => {
    const { raw } = await statefulRaw();
    raw.send(invocation('a', 'echo', [1]), invocation('b', 'echo', [2]));
    await raw.waitForMessage(isCompletion('b'));
    const ack = await raw.waitForMessage(
      (m) => m.type === MessageType.Ack && m.sequenceId === 2,
      3_000,
      'Ack 2',
    );
    assert.deepEqual(ack, { type: MessageType.Ack, sequenceId: 2 });
    // Nothing new: no more Acks.
    const acks = raw.ofType(MessageType.Ack).length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(raw.ofType(MessageType.Ack).length, acks);
    raw.close();
  });

  test('after a drop the new socket gets Sequence first, then the unacknowledged messages in order', async () => {
    const { raw, token, id } = await statefulRaw();
    raw.send(
      invocation('a', 'echo', ['one']),
      invocation('b', 'echo', ['two']),
      invocation('c', 'echo', ['three']),
    );
    await raw.waitForMessage(isCompletion('c'));
    // The client acknowledges the first completion only.
    raw.send({ type: MessageType.Ack, sequenceId: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    raw.terminate();
    await raw.waitForClose();
    const next = await resumeRaw(hubUrl, token);
    await waitFor(() => next.messages.length >= 3, 3_000, 'the replay');
    assert.deepEqual(next.messages.slice(0, 3), [
      { type: MessageType.Sequence, sequenceId: 2 },
      { type: MessageType.Completion, invocationId: 'b', hasResult: true, result: 'two' },
      { type: MessageType.Completion, invocationId: 'c', hasResult: true, result: 'three' },
    ]);
    // The client's own Sequence (it sent 3, all processed), then new traffic on the same connection.
    next.send({ type: MessageType.Sequence, sequenceId: 4 }, invocation('d', 'id', []));
    const completion = await next.waitForMessage(isCompletion('d'));
    assert.equal((completion as { result: unknown }).result, id);
    assert.equal(disconnectsOf(id).length, 0);
    next.close();
    await waitFor(() => disconnectsOf(id).length === 1, 3_000, 'onDisconnected');
  });

  test('everything acknowledged: Sequence is the next id and nothing is replayed', async () => {
    const { raw, token } = await statefulRaw();
    raw.send(invocation('a', 'echo', [1]));
    await raw.waitForMessage(isCompletion('a'));
    raw.send({ type: MessageType.Ack, sequenceId: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    raw.terminate();
    const next = await resumeRaw(hubUrl, token);
    await next.waitForMessage((m) => m.type === MessageType.Sequence);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(next.messages, [{ type: MessageType.Sequence, sequenceId: 2 }]);
    next.close();
  });

  test('messages the server already processed are dropped when the client replays them', async () => {
    const { raw, token, id } = await statefulRaw();
    raw.send(
      { type: MessageType.Invocation, target: 'record', arguments: [1] },
      { type: MessageType.Invocation, target: 'record', arguments: [2] },
    );
    await waitFor(() => recorded.get(id)?.length === 2, 3_000, 'two records');
    raw.terminate();
    const next = await resumeRaw(hubUrl, token);
    await next.waitForMessage((m) => m.type === MessageType.Sequence);
    // The client never saw an Ack: it replays both, then sends a third.
    next.send(
      { type: MessageType.Sequence, sequenceId: 1 },
      { type: MessageType.Invocation, target: 'record', arguments: [1] },
      { type: MessageType.Invocation, target: 'record', arguments: [2] },
      { type: MessageType.Invocation, target: 'record', arguments: [3] },
    );
    await waitFor(() => recorded.get(id)?.length === 3, 3_000, 'the third record');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(recorded.get(id), [1, 2, 3]);
    // And the server acknowledges the third.
    await next.waitForMessage((m) => m.type === MessageType.Ack && m.sequenceId === 3, 3_000, 'Ack 3');
    next.close();
  });

  test('a Sequence beyond what the server received closes the connection with an error', async () => {
    const { raw, token, id } = await statefulRaw();
    raw.send(invocation('a', 'echo', [1]));
    await raw.waitForMessage(isCompletion('a'));
    raw.terminate();
    const next = await resumeRaw(hubUrl, token);
    await next.waitForMessage((m) => m.type === MessageType.Sequence);
    next.send({ type: MessageType.Sequence, sequenceId: 5 });
    const close = await next.waitForMessage((m) => m.type === MessageType.Close);
    assert.equal((close as { error?: string }).error, 'Connection closed with an error.');
    assert.equal((await next.waitForClose()).code, 1000);
    await waitFor(() => disconnectsOf(id).length === 1, 3_000, 'onDisconnected');
    assert.ok(disconnectsOf(id)[0]!.error instanceof SwitchboardError);
  });

  test('beyond the disconnect timeout the connection is disposed and onDisconnected runs once', async () => {
    const { raw, token, id } = await statefulRaw();
    raw.terminate();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(disconnectsOf(id).length, 0, 'still inside the window');
    await waitFor(() => disconnectsOf(id).length === 1, 4_000, 'onDisconnected');
    const error = disconnectsOf(id)[0]!.error;
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'SB_ERR_CONNECTION_ABORTED');
    await assert.rejects(
      resumeRaw(hubUrl, token),
      (e: unknown) => e instanceof UpgradeRefusedError && e.status === 404,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(disconnectsOf(id).length, 1);
  });

  test('a graceful close (a close frame) ends the connection at once', async () => {
    const { raw, token, id } = await statefulRaw();
    raw.close();
    await waitFor(() => disconnectsOf(id).length === 1, 3_000, 'onDisconnected');
    assert.equal(disconnectsOf(id)[0]!.error, undefined);
    await assert.rejects(
      resumeRaw(hubUrl, token),
      (e: unknown) => e instanceof UpgradeRefusedError && e.status === 404,
    );
  });

  test('a version 1 handshake turns the feature off: no Acks, a drop ends the connection', async () => {
    const { raw, token, id } = await statefulRaw(1);
    raw.send(invocation('a', 'echo', [1]));
    await raw.waitForMessage(isCompletion('a'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(raw.ofType(MessageType.Ack).length, 0);
    raw.terminate();
    await waitFor(() => disconnectsOf(id).length === 1, 3_000, 'onDisconnected');
    await assert.rejects(
      resumeRaw(hubUrl, token),
      (e: unknown) => e instanceof UpgradeRefusedError && e.status === 404,
    );
  });

  test('a replay buffer over its limit for the send timeout closes the connection; Acks keep it open', async () => {
    const small = `${server.baseUrl}/stateful-small`;
    const acking = await statefulRaw(2, small);
    const silent = await statefulRaw(2, small);
    const payload = 'x'.repeat(300);
    for (let n = 0; n < 10; n++) {
      await server.hubs.hubContext('/stateful-small').clients.all.send('n', payload);
      // One client acknowledges everything it got, as the official client does.
      await acking.raw.waitForMessage(() => acking.raw.ofType(MessageType.Invocation).length === n + 1);
      acking.raw.send({ type: MessageType.Ack, sequenceId: n + 1 });
    }
    await waitFor(() => disconnectsOf(silent.id).length === 1, 3_000, 'the silent client cut');
    assert.equal((disconnectsOf(silent.id)[0]!.error as SwitchboardError).code, 'SB_ERR_SEND_TIMEOUT');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(disconnectsOf(acking.id).length, 0);
    assert.equal(acking.raw.isClosed, false);
    acking.raw.close();
  });

  test('while the socket is down the server keeps what it sends and replays it', async () => {
    const { raw, token, id } = await statefulRaw();
    raw.terminate();
    await raw.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const client = server.hubs.hubContext('/stateful').clients.client(id);
    await client.send('n', 1);
    await client.send('n', 2);
    const next = await resumeRaw(hubUrl, token);
    await waitFor(() => next.messages.length >= 3, 3_000, 'the replay');
    assert.deepEqual(
      next.messages.slice(0, 3).map((m) => (m.type === MessageType.Invocation ? m.arguments[0] : m.type)),
      [MessageType.Sequence, 1, 2],
    );
    assert.deepEqual(next.messages[0], { type: MessageType.Sequence, sequenceId: 1 });
    next.close();
  });
});

// ---- the official client --------------------------------------------------------------------

for (const protocol of ['json', 'messagepack'] as const) {
  describe(`the official client with withStatefulReconnect() (${protocol})`, () => {
    const options = () => ({
      statefulReconnect: true as const,
      ...(protocol === 'messagepack' ? { protocol: new MessagePackHubProtocol() } : {}),
    });

    test('a cut WebSocket loses and repeats nothing either way; same connection, no onDisconnected', async () => {
      const client = await connectClient(hubUrl, { ...options(), noStart: true });
      const received: number[] = [];
      client.on('n', (n: number) => received.push(n));
      const closed = deferred<Error | undefined>();
      client.onclose((error) => closed.resolve(error));
      let reconnecting = false;
      client.onreconnecting(() => {
        reconnecting = true;
      });
      await client.start();
      const id = (await client.invoke('id')) as string;
      assert.equal(id, client.connectionId);
      const upgradesBefore = upgrades;
      const target = server.hubs.hubContext('/stateful').clients.client(id);
      const total = 200;
      // The server sends numbered messages while the client invokes; the socket is cut twice.
      const serverSide = (async () => {
        for (let n = 1; n <= total; n++) {
          await target.send('n', n);
          if (n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const clientSide = (async () => {
        for (let n = 1; n <= total; n++) {
          if (n % 2 === 0) await client.send('record', n);
          else assert.equal(await client.invoke('echo', n), n);
          if (n === 60 || n === 140) cutWebSockets();
        }
      })();
      await Promise.all([serverSide, clientSide]);
      await waitFor(
        () => received.length >= total && (recorded.get(id)?.length ?? 0) >= total / 2,
        10_000,
        'everything',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        received,
        Array.from({ length: total }, (_, i) => i + 1),
      );
      assert.deepEqual(
        recorded.get(id),
        Array.from({ length: total / 2 }, (_, i) => (i + 1) * 2),
      );
      assert.equal(await client.invoke('id'), id);
      assert.equal(client.connectionId, id);
      assert.equal(reconnecting, false);
      assert.equal(upgrades - upgradesBefore, 2, 'two new sockets took over the connection');
      assert.equal(disconnectsOf(id).length, 0);
      await client.stop();
      assert.equal(await closed.promise, undefined);
      await waitFor(() => disconnectsOf(id).length === 1, 3_000, 'onDisconnected');
      assert.equal(disconnectsOf(id)[0]!.error, undefined);
    });

    test('a client on a hub that does not allow it works as before, and a cut ends it', async () => {
      const client: HubConnection = await connectClient(`${server.baseUrl}/classic`, {
        ...options(),
        noStart: true,
      });
      const closed = deferred<Error | undefined>();
      client.onclose((error) => closed.resolve(error));
      await client.start();
      const id = (await client.invoke('id')) as string;
      cutWebSockets();
      const error = await closed.promise;
      assert.match(String(error), /WebSocket closed with status code: 1006/);
      await waitFor(() => disconnectsOf(id).length === 1, 3_000, 'onDisconnected');
      assert.equal((disconnectsOf(id)[0]!.error as SwitchboardError).code, 'SB_ERR_CONNECTION_ABORTED');
    });
  });
}
