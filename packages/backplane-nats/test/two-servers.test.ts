// Two real HubServers with `natsBackplane()` on the machine's NATS, the official client on each:
// what a hub on node A sends to everyone, to a group or to a user reaches a client on node B (JSON
// and MessagePack); presence sees both nodes' users; health reports the NATS backend; a send from
// the other node at the moment of the handshake arrives (a test hook delays the subscription).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type Authenticator, Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { natsBackplane } from '../src/index.ts';
import { safeName } from '../src/names.ts';
import { deleteStreams, NATS_URL, requireNats, sleep, uniquePrefix } from './helpers.ts';

const secret = 'two-servers-secret';

class ChatHub extends Hub {
  join(group: string) {
    return this.groups.add(this.context.connectionId, group);
  }
  toAll(text: string) {
    return this.clients.all.send('m', `all:${text}`);
  }
  toGroup(group: string, text: string) {
    return this.clients.group(group).send('m', `group:${text}`);
  }
  toUser(user: string, text: string) {
    return this.clients.user(user).send('m', `user:${text}`);
  }
}

test('natsBackplane: a broadcast, a group send and a user send on node A reach clients on node B', async (t) => {
  if (!(await requireNats(t))) return;
  const prefix = uniquePrefix();
  const start = async (nodeId: string) => {
    const server = await startTestServer((hubs) => hubs.mapHub('/chat', ChatHub), {
      authenticate: jwtBearerAuthenticator({ secret }),
      backplane: natsBackplane({ url: NATS_URL, prefix, nodeId, storage: 'memory' }),
    });
    await server.hubs.ready();
    return server;
  };
  const servers: TestServer[] = [await start('A'), await start('B')];
  const clients: HubConnection[] = [];
  try {
    const [a, b] = servers as [TestServer, TestServer];
    const health = a.hubs.health()!;
    assert.equal(health.backend, 'nats');
    assert.equal(health.ready, true);
    const token = (sub: string) => () => signJwt({ sub }, secret, { lifetimeSeconds: 600 });
    const ada = await connectClient(`${a.baseUrl}/chat`, { accessTokenFactory: token('ada') });
    const bob = await connectClient(`${b.baseUrl}/chat`, { accessTokenFactory: token('bob') });
    const cy = await connectClient(`${b.baseUrl}/chat`, {
      accessTokenFactory: token('cy'),
      protocol: new MessagePackHubProtocol(),
    });
    clients.push(ada, bob, cy);
    const got = new Map<HubConnection, string[]>(clients.map((c) => [c, []]));
    for (const c of clients) c.on('m', (text: string) => got.get(c)!.push(text));

    await bob.invoke('join', 'room');
    await cy.invoke('join', 'room');
    await ada.invoke('toAll', 'hello');
    await ada.invoke('toGroup', 'room', 'in the room');
    await ada.invoke('toUser', 'bob', 'just bob');
    await ada.invoke('toUser', 'cy', 'just cy');
    await waitFor(() => got.get(bob)!.length === 3 && got.get(cy)!.length === 3, 5_000, 'messages on node B');
    await waitFor(() => got.get(ada)!.length === 1, 5_000, 'the broadcast on node A');
    assert.deepEqual(got.get(bob), ['all:hello', 'group:in the room', 'user:just bob']);
    assert.deepEqual(got.get(cy), ['all:hello', 'group:in the room', 'user:just cy']);
    assert.deepEqual(got.get(ada), ['all:hello']);
    await bob.invoke('toUser', 'ada', 'from B');
    await waitFor(() => got.get(ada)!.length === 2, 5_000, 'the user send from node B');
    assert.deepEqual(got.get(ada), ['all:hello', 'user:from B']);
    // Presence spans the nodes.
    assert.deepEqual((await a.hubs.presence.onlineUsers()).sort(), ['ada', 'bob', 'cy']);
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    for (const server of servers) await server.close();
    const names = [safeName('sb', prefix, '/chat'), `KV_${safeName('sbp', prefix)}`];
    await deleteStreams(NATS_URL, (name) => names.includes(name));
  }
});

class EmptyHub extends Hub {}

const byQuery: Authenticator = (request) => {
  const user = request.query.get('user');
  return user ? { userId: user, claims: {} } : null;
};

test('natsBackplane: a send from another node at the moment of the handshake arrives; hubs.close() closes it', async (t) => {
  if (!(await requireNats(t))) return;
  const prefix = uniquePrefix();
  const options = { url: NATS_URL, prefix, storage: 'memory' } as const;
  // The test hook widens the window between the connection and its subscriptions on node A.
  const nodeA = natsBackplane({ ...options, nodeId: 'a', beforeConnectionSubscribe: () => sleep(300) });
  const nodeB = natsBackplane({ ...options, nodeId: 'b' });
  const a = await startTestServer((hubs) => hubs.mapHub('/hub', EmptyHub), {
    backplane: nodeA,
    authenticate: byQuery,
  });
  const b = await startTestServer((hubs) => hubs.mapHub('/hub', EmptyHub), {
    backplane: nodeB,
    authenticate: byQuery,
  });
  try {
    await Promise.all([a.hubs.ready(), b.hubs.ready()]);
    assert.equal(a.hubs.health()?.hubs['/hub']?.connected, true);
    const client = await connectClient(`${a.baseUrl}/hub?user=ada`, { noStart: true });
    const received: unknown[] = [];
    client.on('m', (value: unknown) => received.push(value));
    await client.start();
    const hub = b.hubs.hubContext('/hub');
    await hub.clients.client(client.connectionId!).send('m', 'to the connection');
    await hub.clients.user('ada').send('m', 'to the user');
    await waitFor(() => received.length === 2, 3_000, 'both sends').catch(() => undefined);
    assert.deepEqual(received, ['to the connection', 'to the user']);
    assert.equal(await b.hubs.presence.isOnline('ada'), true);
    await client.stop();
  } finally {
    await Promise.all([a.close(), b.close()]);
    assert.equal(a.hubs.health()?.ready, false, 'closed by hubs.close()');
    const names = [safeName('sb', prefix, '/hub'), `KV_${safeName('sbp', prefix)}`];
    await deleteStreams(NATS_URL, (name) => names.includes(name));
  }
});
