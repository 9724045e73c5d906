// The Redis backplane beyond the shared suite: traffic follows subscriptions, replay after a
// dropped subscription, remote group changes with acknowledgement and timeout, client results and
// closes across nodes. Each test has its own prefix and its own nodes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import { Redis } from 'ioredis';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { RedisHubLifetimeManager } from '../src/index.ts';
import {
  closeNodes,
  REDIS_URL,
  requireRedis,
  settle,
  sleep,
  startNodes,
  uniquePrefix,
  until,
} from './helpers.ts';

function completion(invocationId: string, result: unknown): CompletionMessage {
  return { type: MessageType.Completion, invocationId, hasResult: true, result };
}

test('traffic follows subscriptions: a node with no member of a group receives nothing of it', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(3, prefix);
  const admin = new Redis(REDIS_URL);
  try {
    const [a, b, c] = nodes as [RedisHubLifetimeManager, RedisHubLifetimeManager, RedisHubLifetimeManager];
    const member = new RecordingConnection('member');
    const bystander = new RecordingConnection('bystander');
    await a.onConnected(member);
    await b.onConnected(bystander);
    await c.addToGroup('member', 'room'); // remote add: node a subscribes
    const channels = (await admin.pubsub('CHANNELS', `${prefix}*`)) as string[];
    assert.ok(channels.includes(`${prefix}hub:group:room`), 'the group channel is subscribed');
    const [, subscribers] = (await admin.pubsub('NUMSUB', `${prefix}hub:group:room`)) as [string, number];
    assert.equal(Number(subscribers), 1, 'only the node with a member subscribes to the group');
    assert.equal(
      channels.filter((ch) => ch.includes(':group:')).length,
      1,
      `one group channel in use: ${channels.join(', ')}`,
    );

    const before = { a: a.counters, b: b.counters };
    for (let i = 0; i < 20; i++) await c.sendGroup('room', 'm', [i]);
    await until(() => member.frames.length === 20, 'the member to get 20 messages');
    await settle(nodes);
    assert.deepEqual(
      member.tags(),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.equal(bystander.frames.length, 0);
    assert.equal(
      a.counters.messagesReceived - before.a.messagesReceived,
      20,
      'node a got the 20 from the bus',
    );
    assert.ok(a.counters.bytesReceived > before.a.bytesReceived);
    assert.equal(b.counters.messagesReceived, before.b.messagesReceived, 'node b got nothing of the group');
    assert.equal(b.counters.bytesReceived, before.b.bytesReceived);

    // The last member leaves: the node unsubscribes.
    const subscribed = a.counters.subscribedChannels;
    await b.removeFromGroup('member', 'room');
    assert.equal(a.counters.subscribedChannels, subscribed - 1);
    const after = (await admin.pubsub('CHANNELS', `${prefix}*group*`)) as string[];
    assert.deepEqual(after, []);
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});

test('a dropped subscription is caught up from the log: every number arrives once, in order', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const url = new URL(REDIS_URL);
  // Node 0 waits 300 ms before each reconnect, so that many messages are published while it is away.
  const slow = new RedisHubLifetimeManager({
    redis: { host: url.hostname, port: Number(url.port || 6379), retryStrategy: () => 300 },
    prefix,
    nodeId: 'slow',
  });
  const [sender] = await startNodes(1, prefix);
  const nodes = [slow, sender!];
  const admin = new Redis(REDIS_URL);
  try {
    await slow.ready();
    const receiver = new RecordingConnection('receiver');
    await slow.onConnected(receiver);
    await sender!.addToGroup('receiver', 'numbers');
    const count = 300;
    for (let i = 0; i < count; i++) {
      if (i === 60) {
        const list = (await admin.client('LIST')) as string;
        const line = list.split('\n').find((l) => l.includes(`name=${prefix}hub:slow:sub `));
        assert.ok(line, 'the slow node has a named pub/sub connection');
        const id = /\bid=(\d+)/.exec(line)![1]!;
        await admin.client('KILL', 'ID', id);
      }
      await sender!.sendGroup('numbers', 'm', [i]);
      await sleep(2);
    }
    await until(() => receiver.frames.length >= count, `${count} messages`, 15_000);
    await settle(nodes, 200);
    assert.deepEqual(
      receiver.tags(),
      Array.from({ length: count }, (_, i) => i),
    );
    assert.ok(slow.counters.reconnects >= 1, 'the subscription was dropped and came back');
    assert.ok(slow.counters.replayed > 0, `messages came from the log (replayed ${slow.counters.replayed})`);
    assert.equal(slow.counters.lost, 0);
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});

test('a remote group change resolves once the owning node holds it, and times out when it never answers', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(2, prefix, { ackTimeoutMs: 300 });
  const admin = new Redis(REDIS_URL);
  const ghost = new Redis(REDIS_URL);
  try {
    const [a, b] = nodes as [RedisHubLifetimeManager, RedisHubLifetimeManager];
    await b.onConnected(new RecordingConnection('on-b'));
    await a.addToGroup('on-b', 'room');
    // No settling: the acknowledgement means node b already subscribes to the group.
    const [, subscribers] = (await admin.pubsub('NUMSUB', `${prefix}hub:group:room`)) as [string, number];
    assert.equal(Number(subscribers), 1, 'the owner subscribed before acknowledging');

    // No node holds the connection: resolves at once, without waiting for the timeout.
    const started = Date.now();
    await a.addToGroup('nowhere', 'room');
    assert.ok(Date.now() - started < 250, 'an unknown connection does not wait for an acknowledgement');

    // A node that holds the channel but never answers (hung, or its process stopped).
    await ghost.subscribe(`${prefix}hub:connection:ghost`);
    const t0 = Date.now();
    await assert.rejects(a.addToGroup('ghost', 'room'), {
      code: 'SB_ERR_BACKPLANE_ACK_TIMEOUT',
      message: "Timed out waiting for node acknowledgement of the group change of connection 'ghost'.",
    });
    assert.ok(Date.now() - t0 >= 250, 'it waited for ackTimeoutMs');
    await assert.rejects(a.removeFromGroup('ghost', 'room'), { code: 'SB_ERR_BACKPLANE_ACK_TIMEOUT' });
  } finally {
    ghost.disconnect();
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});

test("client results across nodes: the owner forwards the client's answer to the caller's node only", async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(3, prefix);
  try {
    const [caller, bystander, owner] = nodes as [
      RedisHubLifetimeManager,
      RedisHubLifetimeManager,
      RedisHubLifetimeManager,
    ];
    const target = new RecordingConnection('target');
    await owner.onConnected(target);
    const before = bystander.counters.messagesReceived;
    const pending = caller.invokeConnection('target', 'ask', ['question']);
    await until(() => target.frames.length === 1, 'the invocation');
    const [inv] = target.invocations();
    assert.deepEqual([inv!.target, inv!.arguments], ['ask', ['question']]);
    assert.equal(caller.pendingClientResults, 1);
    await owner.setConnectionResult('target', completion(inv!.invocationId!, { answer: [1, 'two', null] }));
    assert.deepEqual(await pending, { answer: [1, 'two', null] });
    assert.equal(caller.pendingClientResults, 0);
    await settle(nodes);
    assert.equal(bystander.counters.messagesReceived, before, 'the third node saw none of it');

    await assert.rejects(caller.invokeConnection('nowhere', 'ask', []), {
      code: 'SB_ERR_CLIENT_RESULT_FAILED',
      message: "Connection 'nowhere' does not exist.",
    });
    const dropped = caller.invokeConnection('target', 'ask', []);
    const rejected = assert.rejects(dropped, {
      code: 'SB_ERR_CLIENT_RESULT_FAILED',
      message: "Connection 'target' disconnected.",
    });
    await until(() => target.frames.length === 2, 'the second invocation');
    await owner.onDisconnected(target);
    await rejected;
  } finally {
    await closeNodes(nodes, prefix);
  }
});

test('closeConnection and closeUser reach connections on other nodes', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const nodes = await startNodes(3, prefix);
  try {
    const [a, b, c] = nodes as [RedisHubLifetimeManager, RedisHubLifetimeManager, RedisHubLifetimeManager];
    const one = new RecordingConnection('one');
    const adaB = new RecordingConnection('ada-b', 'ada');
    const adaC = new RecordingConnection('ada-c', 'ada');
    await b.onConnected(one);
    await b.onConnected(adaB);
    await c.onConnected(adaC);
    await a.closeConnection('one', { reason: 'bye', allowReconnect: true });
    await a.closeConnection('nowhere');
    await a.closeUser('ada', { reason: 'signed out' });
    await until(
      () => one.closes.length === 1 && adaB.closes.length === 1 && adaC.closes.length === 1,
      'closes',
    );
    assert.equal(one.closes[0]!.reason, 'bye');
    assert.equal(one.closes[0]!.allowReconnect, true);
    assert.equal(adaB.closes[0]!.reason, 'signed out');
    assert.equal(adaC.closes[0]!.reason, 'signed out');
  } finally {
    await closeNodes(nodes, prefix);
  }
});

test('a node restarted under the same id is not taken for a duplicate of its former self', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const [receiverNode, first] = await startNodes(2, prefix);
  let second: RedisHubLifetimeManager | undefined;
  try {
    const receiver = new RecordingConnection('receiver');
    await receiverNode!.onConnected(receiver);
    await first!.sendAll('m', ['before']);
    await until(() => receiver.frames.length === 1, 'the first message');
    await first!.close();
    second = new RedisHubLifetimeManager({ redis: REDIS_URL, prefix, nodeId: first!.nodeId });
    await second.ready();
    await second.sendAll('m', ['after']);
    await until(() => receiver.frames.length === 2, 'the message of the restarted node');
    assert.deepEqual(receiver.tags(), ['before', 'after']);
  } finally {
    await closeNodes([receiverNode!, first!, ...(second ? [second] : [])], prefix);
  }
});
