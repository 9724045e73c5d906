// Faults: a node's connections terminated by the server while three nodes send; a node whose
// LISTEN connection is held down while the others send; a node whose writes cannot reach the
// server (a bounded queue, counted overflows); rows that left the window before a node read them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { PostgresHubLifetimeManager } from '../src/index.ts';
import { quoteIdent, schemaFromPrefix } from '../src/migrations.ts';
import {
  adminPool,
  closeNodes,
  PG_URL,
  requirePostgres,
  settle,
  sleep,
  startNodes,
  TcpRelay,
  terminateNode,
  uniquePrefix,
  until,
} from './helpers.ts';

test('three nodes send while their connections are terminated: every receiver gets every number of every sender once, in order', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const errors: string[] = [];
  const nodes = await startNodes(3, prefix, { onError: (e) => errors.push(e.code) });
  const admin = adminPool();
  try {
    const members = nodes.map((_, i) => new RecordingConnection(`member-${i}`));
    for (const [i, node] of nodes.entries()) await node.onConnected(members[i]!);
    // Each member joins through another node: the group change crosses the bus.
    for (const [i, member] of members.entries())
      await nodes[(i + 1) % 3]!.addToGroup(member.connectionId, 'g');
    const count = 150;
    const cuts: Record<number, () => Promise<unknown>> = {
      40: () => terminateNode(admin, `${prefix}node-0`),
      80: () => terminateNode(admin, `${prefix}node-2`),
      110: () => terminateNode(admin, `${prefix}node-1`),
    };
    for (let i = 0; i < count; i++) {
      const cut = await cuts[i]?.();
      if (cut !== undefined) assert.ok((cut as number) >= 2, 'the node had a pool and a LISTEN connection');
      await Promise.all(nodes.map((node, n) => node.sendGroup('g', 'm', [`${n}:${i}`])));
      await sleep(2);
    }
    const total = count * nodes.length;
    await until(() => members.every((m) => m.frames.length >= total), `${total} messages each`, 30_000);
    await settle(nodes);
    for (const member of members) {
      const tags = member.tags() as string[];
      assert.equal(tags.length, total, `${member.connectionId}: nothing twice`);
      for (const [n] of nodes.entries()) {
        assert.deepEqual(
          tags.filter((tag) => tag.startsWith(`${n}:`)),
          Array.from({ length: count }, (_, i) => `${n}:${i}`),
          `${member.connectionId} from node ${n}: all, once, in order`,
        );
      }
    }
    for (const node of nodes) {
      assert.ok(node.counters.reconnects >= 1, `${node.nodeId} reconnected its LISTEN connection`);
      assert.equal(node.counters.lost, 0);
      assert.equal(node.counters.queueOverflows, 0);
    }
    assert.ok(
      nodes.some((node) => node.counters.replayed > 0),
      'a node read what was sent while it was away',
    );
    assert.ok(errors.includes('SB_ERR_BACKPLANE_UNAVAILABLE'), 'the cuts were reported');
  } finally {
    await admin.end();
    await closeNodes(nodes, prefix);
  }
});

test('a node whose LISTEN connection is held down keeps serving its own connections and catches up when it returns', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const relay = await TcpRelay.start();
  const [sender] = await startNodes(1, prefix);
  const held = new PostgresHubLifetimeManager({ pg: PG_URL, listen: relay.url, prefix, nodeId: 'held' });
  const nodes = [sender!, held];
  try {
    await held.ready();
    const local = new RecordingConnection('local', 'ann');
    const remote = new RecordingConnection('remote');
    await held.onConnected(local);
    await sender!.onConnected(remote);
    await held.addToGroup('local', 'g');
    relay.hold();
    await until(() => !held.connected, 'the node to notice');
    const sent = 40;
    for (let i = 0; i < sent; i++) {
      // Every kind of send that reaches the held node: all, its group, its user, its connection.
      const kind = i % 4;
      if (kind === 0) await sender!.sendAll('m', [i]);
      else if (kind === 1) await sender!.sendGroup('g', 'm', [i]);
      else if (kind === 2) await sender!.sendUser('ann', 'm', [i]);
      else await sender!.sendConnection('local', 'm', [i]);
    }
    await held.sendConnection('local', 'own', ['local first']);
    await held.sendConnection('remote', 'm', ['from held']);
    await sender!.flush();
    assert.deepEqual(local.tags(), ['local first'], 'only its own send reached it meanwhile');
    await until(() => remote.tags().includes('from held'), 'the held node to write (its pool is up)');
    const before = held.counters.replayed;
    relay.release();
    await until(() => local.frames.length === sent + 1, 'the catch-up', 15_000);
    await settle(nodes);
    assert.deepEqual(local.tags(), ['local first', ...Array.from({ length: sent }, (_, i) => i)]);
    assert.ok(held.counters.reconnects >= 1);
    assert.ok(held.counters.replayed - before >= sent, `replayed ${held.counters.replayed - before}`);
    assert.equal(held.counters.lost, 0);
  } finally {
    await closeNodes(nodes, prefix);
    await relay.close();
  }
});

test('while its writes cannot reach the server a node queues them (bounded, overflow counted and logged) and writes them in order after', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const relay = await TcpRelay.start();
  const errors: string[] = [];
  const logged: { event: string; code: unknown }[] = [];
  const sender = new PostgresHubLifetimeManager({
    pg: relay.url,
    listen: PG_URL,
    prefix,
    nodeId: 'sender',
    maxQueuedPublishes: 5,
    onError: (e) => errors.push(e.code),
    logger: {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (event, fields) => logged.push({ event, code: fields?.code }),
    },
  });
  const [other] = await startNodes(1, prefix);
  const nodes = [sender, other!];
  try {
    await sender.ready();
    const local = new RecordingConnection('local');
    const remote = new RecordingConnection('remote');
    await sender.onConnected(local);
    await other!.onConnected(remote);
    await other!.addToGroup('remote', 'g');
    await sender.addToGroup('local', 'g');
    relay.hold();
    await sender.sendGroup('g', 'm', [-1]); // fails on the cut connection: from here on, queued
    await until(() => !sender.connected, 'the node to notice');
    for (let i = 0; i < 20; i++) {
      await sender.sendGroup('g', 'm', [i]);
      assert.equal(local.tags().at(-1), i, 'the local member is served at once');
    }
    assert.ok(sender.counters.queued >= 20, `queued ${sender.counters.queued}`);
    assert.equal(sender.counters.queueLength, 5);
    relay.release();
    await until(() => remote.tags().includes(19), 'the queued sends to arrive', 15_000);
    await settle(nodes);
    assert.deepEqual(remote.tags(), [15, 16, 17, 18, 19], 'the five newest survive, in order');
    assert.equal(sender.counters.queueOverflows, 16);
    assert.ok(errors.includes('SB_ERR_BACKPLANE_QUEUE_OVERFLOW'));
    assert.ok(
      logged.some((l) => l.event === 'backplane.error' && l.code === 'SB_ERR_BACKPLANE_QUEUE_OVERFLOW'),
    );
  } finally {
    await closeNodes(nodes, prefix);
    await relay.close();
  }
});

test('rows that leave the window before a held-down node reads them are counted and reported as lost', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const relay = await TcpRelay.start();
  const errors: string[] = [];
  const [sender] = await startNodes(1, prefix, { maxRows: 5, trimIntervalMs: 50 });
  const held = new PostgresHubLifetimeManager({
    pg: PG_URL,
    listen: relay.url,
    prefix,
    nodeId: 'held',
    onError: (e) => errors.push(e.code),
  });
  const nodes = [sender!, held];
  const admin = adminPool();
  try {
    await held.ready();
    const member = new RecordingConnection('member');
    await held.onConnected(member);
    relay.hold();
    await until(() => !held.connected, 'the node to notice');
    for (let i = 0; i < 30; i++) await sender!.sendAll('m', [i]);
    await sender!.flush();
    const schema = held.schema;
    await until(() => member.frames.length === 0, 'nothing meanwhile');
    let kept = 30;
    while (kept > 5) {
      kept = Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.bus_messages`)).rows[0].n);
      await sleep(20);
    }
    relay.release();
    await until(() => held.counters.lost > 0, 'the loss to be counted', 15_000);
    await settle(nodes);
    assert.ok(errors.includes('SB_ERR_BACKPLANE_REPLAY_GAP'));
    // What the window still held arrives, in order; the rest is counted, not delivered twice.
    const tags = member.tags() as number[];
    assert.ok(tags.length >= 1 && tags.length <= 5, `delivered ${tags}`);
    assert.deepEqual(
      tags,
      Array.from({ length: tags.length }, (_, i) => 30 - tags.length + i),
    );
  } finally {
    await admin.end();
    await closeNodes(nodes, prefix);
    await relay.close();
  }
});

test('a node reads only the channels its connections need', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(3, prefix);
  try {
    const [a, b, c] = nodes as [PostgresHubLifetimeManager, ...PostgresHubLifetimeManager[]];
    const member = new RecordingConnection('member', 'ann');
    const bystander = new RecordingConnection('bystander', 'bob');
    await a.onConnected(member);
    await c!.onConnected(bystander);
    await a.addToGroup('member', 'room');
    // all, the inbox, the group, the user, the connection (a route: it is not read)
    assert.equal(a.counters.subscribedChannels, 5);
    assert.equal(c!.counters.subscribedChannels, 4);
    for (let i = 0; i < 30; i++) {
      await b!.sendGroup('room', 'm', [i]);
      await b!.sendUser('ann', 'm', [100 + i]);
      await b!.sendConnection('member', 'm', [200 + i]);
    }
    await until(() => member.frames.length === 90, 'the member to get all 90');
    await settle(nodes);
    assert.equal(a.counters.messagesReceived, 90);
    assert.equal(c!.counters.messagesReceived, 0, 'a node without members reads none of it');
    assert.equal(bystander.frames.length, 0);
    assert.ok(c!.counters.notificationsIgnored > 0, 'its wake-ups were ignored');
    await a.removeFromGroup('member', 'room');
    await a.onDisconnected(member);
    assert.equal(a.counters.subscribedChannels, 2, 'back to all and the inbox');
  } finally {
    await closeNodes(nodes, prefix);
  }
});

/**
 * Node a holds a group member, node c a connection `late` in no group; node b sends 10 to the
 * group, so node c ignores their wake-ups and its read position lags the log. No settle: it would
 * make node c read up to the head.
 */
async function lagThirdNode(nodes: PostgresHubLifetimeManager[]) {
  const [a, b, c] = nodes as [
    PostgresHubLifetimeManager,
    PostgresHubLifetimeManager,
    PostgresHubLifetimeManager,
  ];
  const member = new RecordingConnection('member', 'ann');
  const late = new RecordingConnection('late', 'bob');
  await a.onConnected(member);
  await c.onConnected(late);
  await a.addToGroup('member', 'room');
  for (let i = 0; i < 10; i++) await b.sendGroup('room', 'm', [`before-${i}`]);
  await until(() => member.frames.length === 10, 'the member to get the first 10');
  await until(() => c.counters.notificationsIgnored > 0, 'node c to ignore wake-ups');
  return { b, c, late };
}

test('a group joined on a node whose position lagged (its wake-ups ignored) gets what is sent after the join, never the rows before', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(3, prefix);
  try {
    const { b, c, late } = await lagThirdNode(nodes);
    await c.addToGroup('late', 'room');
    await b.sendGroup('room', 'm', ['after']);
    await until(() => late.frames.length >= 1, 'the late joiner to get the send after its join');
    await settle(nodes);
    assert.deepEqual(late.tags(), ['after'], 'nothing from before the join');
  } finally {
    await closeNodes(nodes, prefix);
  }
});

test('a group joined on a node whose position lagged gets a send from another node made as soon as addToGroup resolved, even while its read is held up', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(3, prefix);
  const admin = adminPool();
  const locker = await admin.connect();
  let locked = false;
  try {
    const { b, c, late } = await lagThirdNode(nodes);
    // Holds up every log read (they read bus_state) but no write: node c's read that sets the
    // new group's start position waits until the lock goes.
    await locker.query('BEGIN');
    await locker.query(
      `LOCK TABLE ${quoteIdent(schemaFromPrefix(prefix))}.bus_state IN ACCESS EXCLUSIVE MODE`,
    );
    locked = true;
    const sent = c.addToGroup('late', 'room').then(() => b.sendGroup('room', 'm', ['after']));
    await sleep(300);
    await locker.query('COMMIT');
    locked = false;
    await sent;
    await until(
      () => late.frames.length >= 1,
      'the late joiner to get the send made after its join resolved',
    );
    await settle(nodes);
    assert.deepEqual(late.tags(), ['after'], 'nothing from before the join');
  } finally {
    if (locked) await locker.query('ROLLBACK').catch(() => undefined);
    locker.release();
    await admin.end();
    await closeNodes(nodes, prefix);
  }
});

test('a node cut off past its lease is taken as gone: group changes for its connections resolve and client invocations fail at once', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const relay = await TcpRelay.start();
  const gone = new PostgresHubLifetimeManager({
    pg: relay.url,
    prefix,
    nodeId: 'gone',
    nodeLeaseMs: 300,
    ackTimeoutMs: 20_000,
  });
  const [caller] = await startNodes(1, prefix, { ackTimeoutMs: 20_000 });
  const nodes = [gone, caller!];
  try {
    await gone.ready();
    await gone.onConnected(new RecordingConnection('stranded'));
    await gone.flush();
    relay.hold(); // no heartbeat, no reads, no writes: to the others it is gone
    await sleep(600);
    await caller!.addToGroup('stranded', 'g');
    await assert.rejects(caller!.invokeConnection('stranded', 'ask', []), /does not exist/);
    assert.equal(caller!.pendingClientResults, 0);
  } finally {
    await closeNodes(nodes, prefix);
    await relay.close();
  }
});

test('a channel subscribed while a read is under way is read from the subscription on, even when that read moves past its rows', async (t) => {
  if (!(await requirePostgres(t))) return;
  const prefix = uniquePrefix();
  const relay = await TcpRelay.start();
  const [sender] = await startNodes(1, prefix);
  const reader = new PostgresHubLifetimeManager({
    pg: PG_URL,
    listen: relay.url,
    prefix,
    nodeId: 'reader',
    pollIntervalMs: 60_000,
  });
  const nodes = [sender!, reader];
  try {
    await reader.ready();
    // The reader's next query reaches the server only after the send below has committed, so it
    // sees the row, but was sent before the reader's connection joined the user's channel.
    relay.pause();
    const read = reader.catchUp();
    const member = new RecordingConnection('member', 'ann');
    await reader.onConnected(member);
    await sender!.sendUser('ann', 'm', ['while the read was on its way']);
    await sender!.flush();
    relay.resume();
    await read;
    await until(() => member.frames.length === 1, 'the send to arrive', 10_000);
    await settle(nodes);
    assert.deepEqual(member.tags(), ['while the read was on its way']);
  } finally {
    await closeNodes(nodes, prefix);
    await relay.close();
  }
});
