// The admin view across two nodes over one PostgreSQL schema, once per backplane (backplanes.ts):
// GET /api/v1/admin/stats on either node lists both nodes with their backplane counters and lag,
// an admin watching on node A gets pushes in which node B's connections change when a user
// connects on B, and the room counts are the cluster's. Skips loudly without the services (fails
// under CI=true).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AdminStats } from '@switchboard/chat-contract';
import { waitFor } from '@switchboard/testkit';
import { chatBackplanes } from './backplanes.ts';
import type { Wire } from './helpers.ts';
import { type TwoNodes, withTwoNodes } from './two-nodes.ts';

for (const backplane of chatBackplanes) {
  test(`admin view on two nodes over the ${backplane.name} backplane`, (t) =>
    withTwoNodes(
      t,
      backplane,
      {
        name: 'admh',
        nodeIds: ['admh-a', 'admh-b'],
        env: { PRESENCE_GRACE_MS: '300', BACKPLANE_LAG_PROBE_MS: '100' },
      },
      adminView,
    ));
}

async function getStats(url: string, token: string): Promise<{ status: number; body: Wire }> {
  const response = await fetch(`${url}/api/v1/admin/stats`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

async function adminView({ a, b }: TwoNodes): Promise<void> {
  const bossSession = await a.register('admhboss');
  await a.app.accounts.setRole(bossSession.user.username, 'admin');
  const boss = (
    await a.post('/api/auth/login', { username: bossSession.user.username, password: 'password123' })
  ).body;
  const user = await b.register('admhuser');

  // A user is refused on node B too.
  const refused = await getStats(b.url, user.token);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'SB_CHAT_ADMIN_ONLY');

  // Either node answers for the cluster: both nodes, with their backplane and (soon) their lag.
  for (const node of [a, b]) {
    let stats: AdminStats | undefined;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      stats = (await getStats(node.url, boss.token)).body as AdminStats;
      const ids = stats.nodes.map((n) => n.nodeId);
      if (ids.includes('admh-a') && ids.includes('admh-b') && stats.nodes.every((n) => n.lag?.probesReceived))
        break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(stats!.nodes.map((n) => n.nodeId).sort(), ['admh-a', 'admh-b']);
    for (const n of stats!.nodes) {
      assert.ok(n.backplane, 'each node reports its backplane');
      assert.equal(n.backplane.ready, true);
      assert.ok(n.backplane.published > 0, 'the lag probes were published');
      assert.ok((n.lag?.probesReceived ?? 0) > 0);
      const other = n.nodeId === 'admh-a' ? 'admh-b' : 'admh-a';
      assert.equal(typeof n.lag?.lastMs[other], 'number');
    }
    assert.equal(stats!.nodeId, node === a ? 'admh-a' : 'admh-b');
  }

  // The admin watches on A; a user connects on B: a push shows B's connection.
  const adminHub = await a.connect(boss.token);
  const pushed: AdminStats[] = [];
  adminHub.on('adminStats', (stats: AdminStats) => pushed.push(stats));
  const first = (await adminHub.invoke('watchAdminStats')) as AdminStats;
  const onB = (s: AdminStats) => s.nodes.find((n) => n.nodeId === 'admh-b');
  const before = onB(first)?.connections.total ?? 0;
  const userHub = await b.connect(user.token);
  const room = await userHub.invoke('createRoom', { name: `admh room ${Date.now()}`, isPrivate: false });
  await waitFor(
    () => {
      const last = pushed.at(-1);
      const row = last?.rooms.find((r) => r.id === room.id);
      return (
        last !== undefined &&
        (onB(last)?.connections.total ?? 0) === before + 1 &&
        row?.members === 1 &&
        row.connectedMembers === 1
      );
    },
    20_000,
    "a push with node B's new connection",
  );
  const last = pushed.at(-1)!;
  assert.ok(last.usersOnline >= 2, 'users online across the cluster');
  assert.equal(
    last.connections,
    last.nodes.reduce((n, node) => n + node.connections.total, 0),
  );

  // Node B stops: node A still answers, with itself only (it waits for B at most its timeout).
  await b.close();
  const alone = (await getStats(a.url, boss.token)).body as AdminStats;
  assert.deepEqual(
    alone.nodes.map((n) => n.nodeId),
    ['admh-a'],
  );
}
