// What a hub method knows about its caller (this.context: connection id, items, the request, abort,
// the aborted signal), and the hub context that code outside hubs uses to reach clients and groups.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { type DefaultHubLifetimeManager, Hub, SwitchboardError } from '@switchboard/server';
import { connectClient, deferred, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { END, record, stopAll } from './hub-test-helpers.js';

const abortedSeen = deferred<string>();
const disconnected: { id: string; error: Error | undefined }[] = [];

class ContextHub extends Hub {
  private field: string | undefined;

  override onConnected() {
    this.context.items.set('connectedAt', 'onConnected');
  }
  override onDisconnected(error?: Error) {
    disconnected.push({ id: this.context.connectionId, error });
  }
  describe() {
    const { connectionId, transport, protocol, request } = this.context;
    return {
      connectionId,
      transport,
      protocol,
      header: request.headers['x-custom'] ?? null,
      room: request.query.get('room'),
      roomAnyCase: request.query.get('ROOM'),
      path: request.path,
    };
  }
  remember(key: string, value: unknown) {
    this.context.items.set(key, value);
    this.field = String(value);
  }
  recall(key: string) {
    return {
      item: this.context.items.get(key) ?? null,
      field: this.field ?? null,
      size: this.context.items.size,
    };
  }
  abortMe() {
    this.context.abort();
  }
  async waitForAbort() {
    const signal = this.context.connectionAborted;
    if (!signal.aborted)
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    abortedSeen.resolve(this.context.connectionId);
  }
  join(group: string) {
    return this.groups.add(this.context.connectionId, group);
  }
}

class OtherHub extends Hub {
  ping() {
    return 'pong';
  }
}

let server: TestServer;
let url: string;

before(async () => {
  server = await startTestServer((h) => h.mapHub('/ctx', ContextHub).mapHub('/other', OtherHub));
  url = `${server.baseUrl}/ctx`;
});
after(() => server.close());

test("context.connectionId is the client's connection id; transport and protocol are named", async () => {
  const [c1, c2] = await Promise.all([connectClient(url), connectClient(url)]);
  try {
    const d1 = (await c1.invoke('describe')) as Record<string, unknown>;
    const d2 = (await c2.invoke('describe')) as Record<string, unknown>;
    assert.equal(d1.connectionId, c1.connectionId);
    assert.equal(d2.connectionId, c2.connectionId);
    assert.notEqual(d1.connectionId, d2.connectionId);
    assert.equal(d1.transport, 'WebSockets');
    assert.equal(d1.protocol, 'json');
  } finally {
    await stopAll([c1, c2]);
  }
});

test('context.items lives as long as the connection and is not shared; hub instances are not', async () => {
  const [c1, c2] = await Promise.all([connectClient(url), connectClient(url)]);
  try {
    await c1.invoke('remember', 'color', 'blue');
    await c2.invoke('remember', 'color', 'red');
    assert.deepEqual(await c1.invoke('recall', 'color'), { item: 'blue', field: null, size: 2 });
    assert.deepEqual(await c2.invoke('recall', 'color'), { item: 'red', field: null, size: 2 });
    assert.deepEqual(await c1.invoke('recall', 'connectedAt'), { item: 'onConnected', field: null, size: 2 });
    await c1.invoke('remember', 'color', 'green');
    assert.deepEqual(await c1.invoke('recall', 'color'), { item: 'green', field: null, size: 2 });
  } finally {
    await stopAll([c1, c2]);
  }
});

test('the request: a custom header and a query parameter of the hub URL are visible', async () => {
  const c = await connectClient(`${url}?room=lobby`, { headers: { 'X-Custom': 'custom value' } });
  try {
    const d = (await c.invoke('describe')) as Record<string, unknown>;
    assert.equal(d.header, 'custom value');
    assert.equal(d.room, 'lobby');
    assert.equal(d.roomAnyCase, 'lobby');
    assert.equal(d.path, '/ctx');
  } finally {
    await c.stop();
  }
});

test('context.abort() closes the client without an error, and it does not reconnect', async () => {
  const c = new HubConnectionBuilder()
    .withUrl(url)
    .withAutomaticReconnect([0, 0, 0])
    .configureLogging(LogLevel.None)
    .build();
  const closed = deferred<Error | undefined>();
  let reconnecting = 0;
  c.onclose(closed.resolve);
  c.onreconnecting(() => reconnecting++);
  await c.start();
  const id = c.connectionId!;
  // The call that aborts never completes: the client fails it when the connection closes.
  await assert.rejects(c.invoke('abortMe'), /connection being closed/);
  assert.equal(await closed.promise, undefined);
  assert.equal(reconnecting, 0);
  assert.equal(c.state, HubConnectionState.Disconnected);
  await waitFor(() => disconnected.some((d) => d.id === id), 5_000, 'onDisconnected');
  assert.equal(disconnected.filter((d) => d.id === id).length, 1);
});

test('context.connectionAborted fires when the connection ends', async () => {
  const c = await connectClient(url);
  const id = c.connectionId!;
  await c.send('waitForAbort');
  await c.stop();
  assert.equal(await abortedSeen.promise, id);
});

test('a hub context from outside: clients.all, groups.add and groups.remove reach clients', async () => {
  const clients = await Promise.all([1, 2, 3].map(() => connectClient(url)));
  const other = await connectClient(`${server.baseUrl}/other`);
  try {
    const logs = record([...clients, other]);
    // by path (ignoring case and a trailing slash) or by class, it is the same hub
    const context = server.hubs.hubContext('/CTX/');
    assert.equal(server.hubs.hubContext(ContextHub), context);
    const settle = async () => {
      await context.clients.all.send('m', END);
      await server.hubs.hubContext('/other').clients.all.send('m', END);
      await logs.settle();
      const copy = logs.logs.map((log) => [...log]);
      logs.clear();
      return copy;
    };

    await context.clients.all.send('m', 'to all');
    assert.deepEqual(await settle(), [['to all', END], ['to all', END], ['to all', END], [END]]);

    const [a, b, c] = clients.map((x) => x.connectionId!) as [string, string, string];
    await context.groups.add(a, 'outside');
    await context.groups.add(c, 'outside');
    await context.clients.group('outside').send('m', 'group');
    assert.deepEqual(await settle(), [['group', END], [END], ['group', END], [END]]);

    await context.groups.remove(a, 'outside');
    await context.clients.group('outside').send('m', 'after remove');
    await context.clients.client(b).send('m', 'direct');
    await context.clients.allExcept([b]).send('m', 'not b');
    assert.deepEqual(await settle(), [
      ['not b', END],
      ['direct', END],
      ['after remove', 'not b', END],
      [END],
    ]);

    // a group joined from inside a hub method is the same group outside
    await clients[1]!.invoke('join', 'outside');
    await context.clients.group('outside').send('m', 'joined inside');
    assert.deepEqual(await settle(), [[END], ['joined inside', END], ['joined inside', END], [END]]);

    // groups.add for an unknown connection does nothing
    await context.groups.add('no-such-connection', 'outside');
    const manager = server.hubs.lifetimeManager('/ctx') as DefaultHubLifetimeManager;
    assert.deepEqual(manager.groupMembers('outside').sort(), [b, c].sort());
  } finally {
    await stopAll([...clients, other]);
  }
});

test('hubContext and lifetimeManager refuse a path nothing is mapped at', () => {
  const refused = (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_ERR_HUB_CONFIGURATION';
  assert.throws(() => server.hubs.hubContext('/nowhere'), refused);
  assert.throws(() => server.hubs.lifetimeManager('/nowhere'), refused);
  class Unmapped extends Hub {}
  assert.throws(() => server.hubs.hubContext(Unmapped), refused);
});
