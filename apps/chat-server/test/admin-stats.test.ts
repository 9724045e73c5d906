// The live admin view on one node (SQLite): only admins may watch (the hub method and
// GET /api/v1/admin/stats refuse others with SB_CHAT_ADMIN_ONLY, counted among the node's errors),
// the numbers have the contract's shape and follow what happens (connections by transport, users,
// rooms with members and connected members), and watchers get them pushed without asking.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import type { AdminStats } from '@switchboard/chat-contract';
import { ApiKeyService } from '@switchboard/chat-server';
import { connectClient, waitFor } from '@switchboard/testkit';
import { type ChatTestServer, startChat, type TestSession, type Wire } from './helpers.ts';

/** GETs the cluster's numbers with a token (or none). */
async function getStats(url: string, token?: string): Promise<{ status: number; body: Wire }> {
  const response = await fetch(`${url}/api/v1/admin/stats`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: await response.json() };
}

/** Registers a user and makes them an admin (a fresh login carries the role). */
async function admin(server: ChatTestServer, name: string): Promise<TestSession> {
  const session = await server.register(name);
  await server.app.accounts.setRole(session.user.username, 'admin');
  const r = await server.post('/api/auth/login', {
    username: session.user.username,
    password: 'password123',
  });
  return r.body;
}

describe('admin view on one node', () => {
  let server: ChatTestServer;
  before(async () => {
    server = await startChat({ NODE_ID: 'admh-solo' });
  });
  after(() => server.close());

  test('GET /api/v1/admin/stats: 401 without a token, 403 SB_CHAT_ADMIN_ONLY for a user, the numbers for an admin', async () => {
    const user = await server.register('admhuser');
    const boss = await admin(server, 'admhboss');

    const none = await getStats(server.url);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'SB_CHAT_BAD_CREDENTIALS');

    const refused = await getStats(server.url, user.token);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'SB_CHAT_ADMIN_ONLY');
    assert.equal(typeof refused.body.error.message, 'string');

    // An agent is no admin either.
    const agent = await server.agent('admhagent');
    assert.equal((await getStats(server.url, agent.token)).body.error.code, 'SB_CHAT_ADMIN_ONLY');

    const ok = await getStats(server.url, boss.token);
    assert.equal(ok.status, 200);
    const stats = ok.body as AdminStats;
    assert.equal(stats.nodeId, 'admh-solo');
    assert.equal(stats.nodes.length, 1);
    const node = stats.nodes[0]!;
    assert.equal(node.nodeId, 'admh-solo');
    assert.ok(!Number.isNaN(Date.parse(node.collectedAt)));
    assert.deepEqual(Object.keys(node.connections.byTransport).sort(), [
      'LongPolling',
      'ServerSentEvents',
      'WebSockets',
    ]);
    assert.equal(node.backplane, null, 'a single node has no backplane');
    assert.equal(node.lag, null);
    assert.deepEqual(node.webhooks, { configured: false, delivered: 0, failed: 0, pending: 0 });
    assert.equal(typeof node.errors.total, 'number');
    assert.equal(typeof stats.roomsTotal, 'number');
    assert.ok(Array.isArray(stats.rooms));
  });

  test('scripts read /api/v1/admin/stats and /api/v1/webhooks/deliveries with a server API key; a revoked key stops at once', async () => {
    const keys = new ApiKeyService(server.app.storage);
    const { key } = await keys.create('admh-script');
    const stats = await getStats(server.url, key);
    assert.equal(stats.status, 200);
    assert.equal((stats.body as AdminStats).nodeId, 'admh-solo');
    const deliveries = await fetch(`${server.url}/api/v1/webhooks/deliveries`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    assert.equal(deliveries.status, 200);
    const forged = await getStats(server.url, `${key.slice(0, -2)}xx`);
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error.code, 'SB_CHAT_API_KEY_INVALID');
    assert.ok(await keys.revoke('admh-script'));
    const revoked = await getStats(server.url, key);
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.error.code, 'SB_CHAT_API_KEY_INVALID');
  });

  test('a user is refused watchAdminStats with SB_CHAT_ADMIN_ONLY; the refusal is counted', async () => {
    const user = await server.register('admhwatcher');
    const hub = await server.connect(user.token);
    await assert.rejects(hub.invoke('watchAdminStats'), /SB_CHAT_ADMIN_ONLY/);
    await assert.rejects(hub.invoke('unwatchAdminStats'), /SB_CHAT_ADMIN_ONLY/);
    const boss = await admin(server, 'admhcounter');
    const stats = (await getStats(server.url, boss.token)).body as AdminStats;
    assert.ok((stats.nodes[0]!.errors.byCode.SB_CHAT_ADMIN_ONLY ?? 0) >= 2);
    assert.ok(stats.nodes[0]!.errors.total >= 2);
  });

  test('an admin watching gets the numbers pushed as they change: transports, users, rooms', async () => {
    const boss = await admin(server, 'admhlive');
    const adminHub = await server.connect(boss.token);
    const pushed: AdminStats[] = [];
    adminHub.on('adminStats', (stats: AdminStats) => pushed.push(stats));
    const first = (await adminHub.invoke('watchAdminStats')) as AdminStats;
    const ws = first.nodes[0]!.connections.byTransport.WebSockets;
    assert.ok(ws >= 1, 'the admin itself is connected over WebSockets');
    const longPolling = first.nodes[0]!.connections.byTransport.LongPolling;

    // A room with two members, one of them connected over long polling.
    const carol = await server.register('admhcarol');
    const dave = await server.register('admhdave');
    const carolHub = await server.connect(carol.token);
    const room = await carolHub.invoke('createRoom', { name: `admh room ${Date.now()}`, isPrivate: false });
    const daveHub = await connectClient(`${server.url}/hubs/chat`, {
      accessTokenFactory: () => dave.token,
      transport: HttpTransportType.LongPolling,
    });
    await daveHub.invoke('joinRoom', room.id);

    // Pushed, not asked for: a later push shows dave's long polling and the room's counts.
    await waitFor(
      () => {
        const last = pushed.at(-1);
        const row = last?.rooms.find((r) => r.id === room.id);
        return (
          last !== undefined &&
          last.nodes[0]!.connections.byTransport.LongPolling === longPolling + 1 &&
          row?.members === 2 &&
          row.connectedMembers === 2 &&
          row.connections === 2
        );
      },
      15_000,
      'a push with the long-polling connection and the room',
    );
    const last = pushed.at(-1)!;
    assert.ok(last.usersOnline >= 3);
    assert.ok(last.nodes[0]!.usersOnline >= 3);
    assert.equal(last.connections, last.nodes[0]!.connections.total);

    // Dave leaves: the room's connected members drop to 1 in a later push.
    await daveHub.stop();
    await waitFor(
      () => pushed.at(-1)?.rooms.find((r) => r.id === room.id)?.connectedMembers === 1,
      15_000,
      'a push without dave',
    );

    // Unwatched: no more pushes.
    await adminHub.invoke('unwatchAdminStats');
    const count = pushed.length;
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    assert.ok(pushed.length <= count + 1, 'at most one push that was already under way');
  });
});
