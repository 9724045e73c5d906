// A connection's life as the hub sees it: onConnected (sending at once, or refusing by throwing) and
// onDisconnected (once, with an error for an abrupt end or a client Close carrying one, with
// undefined for a clean stop), and the lifetime manager forgetting the connection's groups and user.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { type DefaultHubLifetimeManager, Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import {
  type ClientOptions,
  connectClient,
  deferred,
  startTestServer,
  type TestServer,
  waitFor,
} from '@switchboard/testkit';
import WebSocket from 'ws';
import { rawConnect } from './hub-test-helpers.js';

const secret = 'lifecycle-secret';

/** Every onDisconnected, by connection id, in order. */
const disconnects = new Map<string, (Error | undefined)[]>();
const connectedIds: string[] = [];

class LifeHub extends Hub {
  override async onConnected() {
    connectedIds.push(this.context.connectionId);
    await this.groups.add(this.context.connectionId, 'lobby');
    await this.clients.caller.send('welcome', this.context.connectionId);
  }
  override onDisconnected(error?: Error) {
    const list = disconnects.get(this.context.connectionId) ?? [];
    list.push(error);
    disconnects.set(this.context.connectionId, list);
  }
  join(group: string) {
    return this.groups.add(this.context.connectionId, group);
  }
  me() {
    return this.context.connectionId;
  }
}

let refusedConnects = 0;
class RefusingHub extends Hub {
  override onConnected() {
    refusedConnects++;
    disconnects.set(`refused-${refusedConnects}`, []);
    throw new Error('not today');
  }
  override onDisconnected(error?: Error) {
    // must not run: onConnected failed
    disconnects.get(`refused-${refusedConnects}`)!.push(error);
  }
}

let server: TestServer;
let url: string;
const manager = () => server.hubs.lifetimeManager('/life') as DefaultHubLifetimeManager;

before(async () => {
  server = await startTestServer((h) => h.mapHub('/life', LifeHub).mapHub('/refuse', RefusingHub), {
    authenticate: jwtBearerAuthenticator({ secret }),
  });
  url = `${server.baseUrl}/life`;
});
after(() => server.close());

/** Waits until the manager forgot `id` and its onDisconnected ran; returns the errors it got. */
async function disconnected(id: string): Promise<(Error | undefined)[]> {
  await waitFor(
    () => (disconnects.get(id)?.length ?? 0) > 0 && !manager().groupMembers('lobby').includes(id),
    5_000,
    `the disconnect of ${id}`,
  );
  // one more connection through the server before counting, so that a second call would show
  const probe = await connectClient(url);
  const probeId = (await probe.invoke('me')) as string;
  await probe.stop();
  await waitFor(() => disconnects.has(probeId) && !manager().groupMembers('lobby').includes(probeId));
  return disconnects.get(id)!;
}

/** Waits until the hub has no connection left. */
const idle = () => waitFor(() => manager().connectionCount === 0, 5_000, 'every connection to leave');

test('onConnected can send to the caller at once and add it to a group', async () => {
  const c = await connectClient(url, { noStart: true });
  const welcome = deferred<string>();
  c.on('welcome', welcome.resolve);
  await c.start();
  try {
    assert.equal(await welcome.promise, c.connectionId);
    assert.ok(manager().groupMembers('lobby').includes(c.connectionId!));
  } finally {
    await c.stop();
  }
});

test('an abrupt end of the socket: onDisconnected runs once, with an error; groups and user index are cleaned', async () => {
  await idle();
  const raw = await rawConnect(url, {
    headers: { Authorization: `Bearer ${signJwt({ sub: 'mallory' }, secret, { lifetimeSeconds: 60 })}` },
  });
  const id = raw.connectionId;
  raw.send({ type: 1, invocationId: '1', target: 'join', arguments: ['extra'] });
  await raw.waitFor((m) => m.invocationId === '1');
  assert.deepEqual(manager().userConnections('mallory'), [id]);
  assert.deepEqual(manager().groupsOf(id).sort(), ['extra', 'lobby']);
  assert.equal(manager().connectionCount, 1);

  raw.ws.terminate();

  const errors = await disconnected(id);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Error, 'onDisconnected got an error');
  assert.deepEqual(manager().userConnections('mallory'), []);
  assert.deepEqual(manager().groupMembers('extra'), []);
  assert.ok(!manager().groupMembers('lobby').includes(id));
  assert.deepEqual(manager().groupsOf(id), []);
  assert.equal(manager().connectionCount, 0);
});

test("cutting the official client's socket: both ends see an error, and the server forgets the connection", async () => {
  // The client's WebSocket option takes a constructor: this one remembers its sockets.
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  // HttpConnection reads `options.WebSocket` (Node and browsers), but the typings leave it out.
  const options: ClientOptions & { WebSocket: unknown } = { WebSocket: TrackedWebSocket };
  const c = await connectClient(url, options);
  const id = c.connectionId!;
  const clientClosed = deferred<Error | undefined>();
  c.onclose(clientClosed.resolve);
  await c.invoke('join', 'cut');
  assert.equal(sockets.length, 1);
  sockets[0]!.terminate();
  const clientError = await clientClosed.promise;
  assert.ok(clientError instanceof Error, 'the client saw an error');
  const errors = await disconnected(id);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Error);
  assert.deepEqual(manager().groupMembers('cut'), []);
});

test('the official client stopping cleanly: onDisconnected gets undefined, once', async () => {
  const c = await connectClient(url);
  const id = c.connectionId!;
  await c.invoke('join', 'clean');
  await c.stop();
  assert.deepEqual(await disconnected(id), [undefined]);
  assert.deepEqual(manager().groupMembers('clean'), []);
});

test("a client Close carrying an error: onDisconnected gets an error with the client's message", async () => {
  const raw = await rawConnect(url);
  const id = raw.connectionId;
  raw.sendText('{"type":7,"error":"bye"}\x1e');
  await raw.closed;
  const errors = await disconnected(id);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Error);
  assert.equal(errors[0].message, 'bye');
});

test('a client Close without an error is a clean end', async () => {
  const raw = await rawConnect(url);
  raw.sendText('{"type":7}\x1e');
  await raw.closed;
  assert.deepEqual(await disconnected(raw.connectionId), [undefined]);
  // the server answered with its own Close, without an error
  assert.deepEqual(
    raw.messages.filter((m) => m.type === 7),
    [{ type: 7 }],
  );
});

test('onConnected throwing: the client is closed with an error and does not reconnect; onDisconnected does not run', async () => {
  const c = new HubConnectionBuilder()
    .withUrl(`${server.baseUrl}/refuse`)
    .withAutomaticReconnect([0, 0, 0])
    .configureLogging(LogLevel.None)
    .build();
  const closed = deferred<Error | undefined>();
  let reconnecting = 0;
  c.onclose(closed.resolve);
  c.onreconnecting(() => reconnecting++);
  // The handshake succeeds, so start() may resolve before the Close arrives; either way the
  // connection ends with the server's error.
  const started = await c.start().then(
    () => undefined,
    (e: Error) => e,
  );
  const error = started ?? (await closed.promise);
  assert.equal(error?.message, 'Server returned an error on close: Connection closed with an error.');
  assert.equal(c.state, HubConnectionState.Disconnected);
  assert.equal(reconnecting, 0);
  assert.equal(refusedConnects, 1);
  const refusing = server.hubs.lifetimeManager('/refuse') as DefaultHubLifetimeManager;
  await waitFor(() => refusing.connectionCount === 0, 5_000, 'the refused connection to leave the manager');
  assert.deepEqual(disconnects.get('refused-1'), []);
});

test('every connection and group is forgotten once all clients are gone', async () => {
  const clients = await Promise.all([1, 2, 3].map(() => connectClient(url)));
  await Promise.all(clients.map((c, i) => c.invoke('join', `g${i % 2}`)));
  const ids = clients.map((c) => c.connectionId!);
  assert.equal(manager().groupMembers('g0').length, 2);
  await Promise.all(clients.map((c) => c.stop()));
  await idle();
  assert.deepEqual(manager().groupMembers('g0'), []);
  assert.deepEqual(manager().groupMembers('g1'), []);
  assert.deepEqual(manager().groupMembers('lobby'), []);
  for (const id of ids) assert.deepEqual(disconnects.get(id), [undefined]);
});
