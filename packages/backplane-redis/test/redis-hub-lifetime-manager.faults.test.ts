// Faults of a node's command connection: while it is away, sends serve local recipients at once and
// wait in a bounded queue; they are written in order when it returns, and an overflow is counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { type BackplaneError, RedisHubLifetimeManager } from '../src/index.ts';
import {
  closeNodes,
  killConnection,
  REDIS_URL,
  requireRedis,
  settle,
  slowReconnect,
  startNodes,
  uniquePrefix,
  until,
} from './helpers.ts';

test('sends while Redis is unreachable serve local recipients at once and are written, in order, when it returns', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const sender = new RedisHubLifetimeManager({ redis: slowReconnect(400), prefix, nodeId: 'sender' });
  const [other] = await startNodes(1, prefix);
  const nodes = [sender, other!];
  const admin = new Redis(REDIS_URL);
  try {
    await sender.ready();
    const local = new RecordingConnection('local');
    const remote = new RecordingConnection('remote');
    await sender.onConnected(local);
    await other!.onConnected(remote);
    await sender.addToGroup('local', 'g');
    await sender.addToGroup('remote', 'g');
    await sender.sendGroup('g', 'm', [0]);
    await killConnection(admin, prefix, 'sender', 'pub');
    await until(() => !sender.connected, 'the node to notice');
    for (let i = 1; i <= 50; i++) {
      await sender.sendGroup('g', 'm', [i]);
      assert.equal(local.frames.length, i + 1, 'the local member is served at once');
    }
    assert.ok(sender.counters.queued > 0, `sends waited for Redis (queued ${sender.counters.queued})`);
    await until(() => remote.frames.length === 51, 'the remote member to get all 51', 10_000);
    await settle(nodes);
    assert.deepEqual(
      remote.tags(),
      Array.from({ length: 51 }, (_, i) => i),
    );
    assert.equal(sender.counters.queueOverflows, 0);
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});

test('the queue is bounded: past maxQueuedPublishes the oldest send is dropped, counted and reported', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const errors: BackplaneError[] = [];
  const logged: { event: string; code: unknown }[] = [];
  const sender = new RedisHubLifetimeManager({
    redis: slowReconnect(400),
    prefix,
    nodeId: 'sender',
    maxQueuedPublishes: 5,
    onError: (e) => errors.push(e),
    logger: {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (event, fields) => logged.push({ event, code: fields?.code }),
    },
  });
  const [other] = await startNodes(1, prefix);
  const nodes = [sender, other!];
  const admin = new Redis(REDIS_URL);
  try {
    await sender.ready();
    const remote = new RecordingConnection('remote');
    await other!.onConnected(remote);
    await killConnection(admin, prefix, 'sender', 'pub');
    await until(() => !sender.connected, 'the node to notice');
    const before = sender.counters.queued;
    for (let i = 0; i < 20; i++) await sender.sendConnection('remote', 'm', [i]);
    assert.equal(sender.counters.queued - before, 20);
    await until(() => remote.tags().includes(19), 'the last sends to arrive', 10_000);
    await settle(nodes);
    assert.deepEqual(remote.tags(), [15, 16, 17, 18, 19], 'the five newest survive, in order');
    assert.equal(sender.counters.queueOverflows, 15);
    assert.ok(errors.some((e) => e.code === 'SB_ERR_BACKPLANE_QUEUE_OVERFLOW'));
    assert.ok(
      logged.some((l) => l.event === 'backplane.error' && l.code === 'SB_ERR_BACKPLANE_QUEUE_OVERFLOW'),
    );
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});

test('three nodes send while their connections are cut: every receiver gets every number of every sender once, in order', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const nodes = ['n0', 'n1', 'n2'].map(
    (nodeId) => new RedisHubLifetimeManager({ redis: slowReconnect(200), prefix, nodeId }),
  );
  const admin = new Redis(REDIS_URL);
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    const members = nodes.map((_, i) => new RecordingConnection(`member-${i}`));
    for (const [i, node] of nodes.entries()) await node.onConnected(members[i]!);
    for (const [i, member] of members.entries())
      await nodes[(i + 1) % 3]!.addToGroup(member.connectionId, 'g');
    const count = 150;
    const cuts: Record<number, () => Promise<void>> = {
      40: async () => {
        await killConnection(admin, prefix, 'n0', 'sub');
        await killConnection(admin, prefix, 'n1', 'sub');
      },
      80: () => killConnection(admin, prefix, 'n2', 'pub'),
      110: () => killConnection(admin, prefix, 'n1', 'pub'),
    };
    for (let i = 0; i < count; i++) {
      await cuts[i]?.();
      await Promise.all(nodes.map((node, n) => node.sendGroup('g', 'm', [`${n}:${i}`])));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const total = count * nodes.length;
    await until(() => members.every((m) => m.frames.length >= total), `${total} messages each`, 20_000);
    await settle(nodes, 300);
    for (const member of members) {
      const tags = member.tags() as string[];
      assert.equal(tags.length, total, `${member.connectionId}: nothing twice`);
      for (const [n] of nodes.entries()) {
        const fromSender = tags.filter((tag) => tag.startsWith(`${n}:`));
        assert.deepEqual(
          fromSender,
          Array.from({ length: count }, (_, i) => `${n}:${i}`),
          `${member.connectionId} from node ${n}: all, once, in order`,
        );
      }
    }
    assert.ok(nodes[0]!.counters.reconnects >= 1 && nodes[1]!.counters.reconnects >= 1);
    for (const node of nodes) {
      assert.equal(node.counters.lost, 0);
      assert.equal(node.counters.logResets, 0, 'a cut connection is no log reset: the log was kept');
    }
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});
