// `redisBackplane()` in two real HubServers on one Redis: the one object gives the hub its manager
// and the server its presence, `hubs.ready()` / `hubs.health()` / `hubs.close()` drive it, and a
// send from the other node at the moment of the handshake arrives (the test hook delays the
// subscription of the connection's channels; on a server that answered the handshake first the
// send was lost every time).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Authenticator, Hub } from '@switchboard/server';
import { connectClient, startTestServer, waitFor } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { redisBackplane } from '../src/index.ts';
import { REDIS_URL, requireRedis, sleep, uniquePrefix } from './helpers.ts';

class EmptyHub extends Hub {}

const byQuery: Authenticator = (request) => {
  const user = request.query.get('user');
  return user ? { userId: user, claims: {} } : null;
};

test('redisBackplane: ready, health, presence, close; a send at the handshake from another node arrives', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const nodeA = redisBackplane({
    url: REDIS_URL,
    prefix,
    nodeId: 'a',
    beforeConnectionSubscribe: () => sleep(300),
  });
  const nodeB = redisBackplane({ url: REDIS_URL, prefix, nodeId: 'b' });
  const a = await startTestServer((hubs) => hubs.mapHub('/hub', EmptyHub), {
    backplane: nodeA,
    authenticate: byQuery,
  });
  const b = await startTestServer((hubs) => hubs.mapHub('/hub', EmptyHub), {
    backplane: nodeB,
    authenticate: byQuery,
  });
  const admin = new Redis(REDIS_URL);
  try {
    await Promise.all([a.hubs.ready(), b.hubs.ready()]);
    const health = a.hubs.health()!;
    assert.equal(health.backend, 'redis');
    assert.equal(health.ready, true);
    assert.equal(health.hubs['/hub']?.connected, true);
    const client = await connectClient(`${a.baseUrl}/hub?user=ada`, { noStart: true });
    const received: unknown[] = [];
    client.on('m', (value: unknown) => received.push(value));
    await client.start();
    const hub = b.hubs.hubContext('/hub');
    await hub.clients.client(client.connectionId!).send('m', 'to the connection');
    await hub.clients.user('ada').send('m', 'to the user');
    await waitFor(() => received.length === 2, 3_000, 'both sends').catch(() => undefined);
    assert.deepEqual(received, ['to the connection', 'to the user']);
    // Presence is the backplane's, shared by the nodes.
    assert.equal(await b.hubs.presence.isOnline('ada'), true);
    assert.ok((await admin.keys(`${prefix}hubs:/hub:*`)).length > 0, 'hub keys under <prefix>hubs:');
    assert.ok((await admin.keys(`${prefix}presence:*`)).length > 0, 'presence keys under <prefix>presence:');
    await client.stop();
  } finally {
    await Promise.all([a.close(), b.close()]);
    assert.equal(a.hubs.health()?.ready, false, 'closed by hubs.close()');
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  }
});
