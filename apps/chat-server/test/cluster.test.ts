// Two chat nodes in one process over one PostgreSQL schema, once per backplane (backplanes.ts:
// REDIS_URL, or BACKPLANE=postgres with BACKPLANE_URL; BACKPLANE_PREFIX, NODE_ID): a message sent
// on node A reaches the member connected to node B, a room joined on B puts the joiner's
// connection on A into the room too, presence agrees on both nodes, presenceChanged comes once per
// transition cluster-wide, and logout on one node ends the token's connection on the other. Skips
// loudly without the backplane's services or PostgreSQL (fails under CI=true).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@switchboard/testkit';
import { chatBackplanes } from './backplanes.ts';
import { type ChatTestServer, cid, metricsText, record, settle, type Wire, waitCount } from './helpers.ts';
import { documentedMetricNames, metricSum, serves } from './metrics-text.ts';
import { type TwoNodes, withTwoNodes } from './two-nodes.ts';

const GRACE_MS = 300;

for (const backplane of chatBackplanes) {
  test(`two nodes on the ${backplane.name} backplane: messages, room joins and presence cross nodes`, (t) =>
    withTwoNodes(
      t,
      backplane,
      {
        name: 'cluster',
        env: { PRESENCE_GRACE_MS: String(GRACE_MS), BACKPLANE_LAG_PROBE_MS: '50' },
      },
      crossNodes,
    ));
}

async function crossNodes({ a, b }: TwoNodes): Promise<void> {
  const alice = await a.register('alice');
  const bob = await b.register('bob');
  const onA = await a.connect(alice.token);
  const bobOnB = await b.connect(bob.token);
  const bobOnA = await a.connect(bob.token);
  const [eB, eBA] = [record(bobOnB), record(bobOnA)];
  const room = await onA.invoke('createRoom', { name: 'across', isPrivate: false });
  // Bob joins on node B: his connection on node A joins the room's group too.
  await bobOnB.invoke('joinRoom', room.id);
  await settle(100);

  const sent = await onA.invoke('sendMessage', {
    roomId: room.id,
    text: 'hello from A',
    clientMessageId: cid(),
  });
  await Promise.all([waitCount(eB.messageReceived!, 1), waitCount(eBA.messageReceived!, 1)]);
  assert.equal(eB.messageReceived![0].id, sent.id);
  assert.equal(eB.messageReceived![0].text, 'hello from A');
  assert.equal(eBA.messageReceived![0].id, sent.id);
  const eA = record(onA);
  await bobOnB.invoke('sendMessage', { roomId: room.id, text: 'hello from B', clientMessageId: cid() });
  await waitCount(eA.messageReceived!, 1);
  assert.equal(eA.messageReceived![0].text, 'hello from B');
  await settle(100);
  assert.equal(eB.messageReceived!.length, 2, 'each message once per connection');
  assert.equal(eBA.messageReceived!.length, 2);

  // /metrics exports the backplane's counters (replays, drops, losses, overflows ...), and they
  // move with the traffic: A published, B received.
  const metric = async (node: ChatTestServer, name: string) => {
    const value = metricSum(await metricsText(node.url), name);
    assert.ok(value !== undefined, `${name} on ${node.app.config.nodeId}`);
    return value;
  };
  // Replays and dropped duplicates may happen in normal operation (a new subscription's catch-up
  // meets live frames); losses, overflows and errors do not.
  for (const name of [
    'switchboard_backplane_replayed_total',
    'switchboard_backplane_duplicates_dropped_total',
  ]) {
    assert.ok((await metric(a, name)) >= 0, name);
  }
  for (const name of [
    'switchboard_backplane_lost_total',
    'switchboard_backplane_queue_overflows_total',
    'switchboard_backplane_errors_total',
  ]) {
    assert.equal(await metric(a, name), 0, name);
  }
  const [publishedA, receivedB] = [
    await metric(a, 'switchboard_backplane_published_total'),
    await metric(b, 'switchboard_backplane_messages_received_total'),
  ];
  assert.ok(publishedA > 0 && receivedB > 0);
  await onA.invoke('sendMessage', { roomId: room.id, text: 'counted', clientMessageId: cid() });
  await waitCount(eB.messageReceived!, 3);
  assert.ok((await metric(a, 'switchboard_backplane_published_total')) > publishedA);
  // B's connection got it through the backplane, so B counted it first.
  assert.ok((await metric(b, 'switchboard_backplane_messages_received_total')) > receivedB);
  assert.ok((await metric(a, 'switchboard_backplane_subscribed_channels')) > 0);
  // The lag probe: each node reports the delay of the other's probes, and the count moves.
  const probes = await metric(a, 'switchboard_backplane_lag_probes_total');
  assert.ok(probes > 0, 'node A received probes from node B');
  const lagText = await metricsText(a.url);
  const lag = metricSum(lagText, 'switchboard_backplane_lag_seconds', { from: 'node-b' });
  assert.ok(lag !== undefined && lag >= 0, 'a lag gauge for node B on node A');
  // Every backplane name docs/server.md lists is served (ops.test.ts checks the others).
  const { backplane: onBackplane } = documentedMetricNames();
  const missing = onBackplane.filter((name) => !serves(lagText, name));
  assert.deepEqual(missing, [], 'documented names that /metrics does not serve');
  await settle(200);
  assert.ok((await metric(a, 'switchboard_backplane_lag_probes_total')) > probes, 'probes keep coming');
  assert.doesNotMatch(lagText, /from="node-a"/, 'its own probes are not a measure');

  // Presence agrees on both nodes, one entry per user.
  const ids = [alice.user.id, bob.user.id];
  const viewA = await onA.invoke('getPresence', ids);
  const viewB = await bobOnB.invoke('getPresence', ids);
  assert.deepEqual(viewA, viewB);
  assert.deepEqual(
    viewA.map((p: Wire) => [p.userId, p.online]),
    [
      [alice.user.id, true],
      [bob.user.id, true],
    ],
  );

  // Alice leaves node A: after the grace, one offline event on each of Bob's connections (on
  // both nodes), and both nodes agree she is offline with the same lastSeenAt.
  await onA.stop();
  await Promise.all([waitCount(eB.presenceChanged!, 1), waitCount(eBA.presenceChanged!, 1)]);
  await settle(GRACE_MS);
  for (const events of [eB.presenceChanged!, eBA.presenceChanged!]) {
    assert.equal(events.length, 1, 'once per transition, cluster-wide');
    assert.equal(events[0].userId, alice.user.id);
    assert.equal(events[0].online, false);
  }
  const [afterB, afterA] = await Promise.all([
    bobOnB.invoke('getPresence', [alice.user.id]),
    bobOnA.invoke('getPresence', [alice.user.id]),
  ]);
  assert.deepEqual(afterB, afterA);
  assert.deepEqual(afterB[0], {
    userId: alice.user.id,
    online: false,
    lastSeenAt: eB.presenceChanged![0].lastSeenAt,
    status: 'offline',
  });

  // Logout through node B ends the token's connection on node A too.
  let closedOnA = false;
  bobOnA.onclose(() => {
    closedOnA = true;
  });
  assert.equal((await b.post('/api/auth/logout', undefined, bob.token)).status, 204);
  await waitFor(() => closedOnA, 5_000, "the token's connection on the other node to end");
}
