/**
 * The chat's end-to-end scenarios on three chat processes over one PostgreSQL schema, registered
 * once per backplane (`cluster-scenarios-*.test.ts`): two users chat across nodes; one user on two
 * devices on different nodes; history after being away; an idempotent retry after reconnecting to
 * another node; read state synced across nodes; presence cluster-wide; the support flow with a
 * requeue when the agent goes away. Every client is the official one.
 */
import assert from 'node:assert/strict';
import { after, type TestContext, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { waitFor } from '@switchboard/testkit';
import type { ChatStorage } from '../src/storage/storage.ts';
import { cid, record, settle, type Wire } from './helpers.ts';
import { type ChatCluster, metricValue, servicesAvailable, startCluster } from './process-cluster.ts';

const GRACE_MS = 400;

/** Waits (longer than the in-process tests: three processes share the machine) for `n` entries. */
const waitN = (list: unknown[], n: number, what = 'events') =>
  waitFor(() => list.length >= n, 15_000, `${n} ${what}`);

/** Another way to run the scenarios than three processes on PostgreSQL (`WORKERS`, on SQLite). */
export interface ScenarioCluster {
  /** Starts the cluster (once, for every scenario of the file). */
  start(): Promise<ChatCluster<ChatStorage>>;
  /** Whether its nodes probe a backplane's lag (the `/metrics` scenario needs it). */
  readonly lagProbes: boolean;
}

/**
 * Registers the scenarios as tests titled `<name>: ...`, on a cluster whose nodes get the variables
 * `backplane(prefix)` (e.g. `{ REDIS_URL }`). `needsRedis` says whether Redis must answer. With
 * `other`, the scenarios run on the cluster it starts instead.
 */
export function clusterScenarios(
  name: string,
  backplane: (prefix: string) => Record<string, string>,
  needsRedis: boolean,
  other?: ScenarioCluster,
): void {
  let cluster: Promise<ChatCluster<ChatStorage>> | undefined;
  after(async () => {
    await (await cluster?.catch(() => undefined))?.close();
  });
  const ready = async (t: TestContext): Promise<ChatCluster<ChatStorage> | undefined> => {
    if (other) {
      cluster ??= other.start();
      return cluster;
    }
    if (!(await servicesAvailable(t, { redis: needsRedis }))) return undefined;
    cluster ??= startCluster({
      nodes: 3,
      name: `e2e_${name}`,
      backplane,
      env: { PRESENCE_GRACE_MS: String(GRACE_MS), MESSAGE_RATE_LIMIT: '1000', BACKPLANE_LAG_PROBE_MS: '200' },
    });
    return cluster;
  };
  const send = (c: HubConnection, roomId: string, text: string, clientMessageId = cid()) =>
    c.invoke('sendMessage', { roomId, text, clientMessageId });

  test(`${name}: two users on different nodes chat; each message reaches both once, in seq order`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob] = await Promise.all([c.register('alice'), c.register('bob')]);
    const a = await c.nodes[0]!.connect(alice.token);
    const b = await c.nodes[1]!.connect(bob.token);
    const [ea, eb] = [record(a), record(b)];
    const room = await a.invoke('openDirect', [bob.user.id]);
    // A conversation: each answer is written once the last message was read. (A send is answered
    // once it is stored and published, not once every node delivered it: a message sent on the
    // sender's node right after may reach a local reader before a remote one's.)
    const both = (n: number) => Promise.all([waitN(ea.messageReceived!, n), waitN(eb.messageReceived!, n)]);
    await send(a, room.id, 'hi bob');
    await both(1);
    await send(b, room.id, 'hi alice');
    await both(2);
    await send(a, room.id, 'how are you?');
    await both(3);
    await settle(200);
    for (const e of [ea, eb]) {
      assert.deepEqual(
        e.messageReceived!.map((m) => [m.seq, m.text]),
        [
          [1, 'hi bob'],
          [2, 'hi alice'],
          [3, 'how are you?'],
        ],
      );
    }
  });

  test(`${name}: a reply, its thread and reactions cross nodes; a non-member is refused on any node`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob, carol] = await Promise.all([
      c.register('alice'),
      c.register('bob'),
      c.register('carol'),
    ]);
    const a = await c.nodes[0]!.connect(alice.token);
    const b = await c.nodes[1]!.connect(bob.token);
    const x = await c.nodes[2]!.connect(carol.token);
    const [ea, eb] = [record(a), record(b)];
    const room = await a.invoke('openDirect', [bob.user.id]);
    const parent = await send(a, room.id, 'thread on node 0');
    const reply = await b.invoke('sendMessage', {
      roomId: room.id,
      text: 'reply from node 1',
      clientMessageId: cid(),
      parentId: parent.id,
    });
    await b.invoke('react', { messageId: parent.id, emoji: '🚀' });
    await Promise.all([
      waitN(ea.threadUpdated!, 1, 'threadUpdated'),
      waitN(ea.reactionsChanged!, 1, 'reactions'),
    ]);
    await waitN(ea.messageReceived!, 2);
    assert.equal(ea.messageReceived![1].parentId, parent.id);
    assert.equal(ea.threadUpdated![0].replyCount, 1);
    assert.equal(ea.reactionsChanged![0].reactions[0].emoji, '🚀');
    await waitN(eb.messageReceived!, 2);
    const thread = await a.invoke('getThread', { messageId: parent.id });
    assert.deepEqual(
      thread.replies.map((m: Wire) => m.id),
      [reply.id],
    );
    await assert.rejects(x.invoke('getThread', { messageId: parent.id }), /SB_CHAT_FORBIDDEN/);
    await assert.rejects(x.invoke('react', { messageId: parent.id, emoji: '👍' }), /SB_CHAT_FORBIDDEN/);
  });

  test(`${name}: one user on two devices on different nodes sees everything on both`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob] = await Promise.all([c.register('alice'), c.register('bob')]);
    const d1 = await c.nodes[0]!.connect(alice.token);
    const d2 = await c.nodes[2]!.connect(alice.token);
    const b = await c.nodes[1]!.connect(bob.token);
    const [e1, e2] = [record(d1), record(d2)];
    const room = await d1.invoke('createRoom', { name: 'two devices', isPrivate: true });
    await waitN(e2.roomUpdated!, 1, 'roomUpdated on the other device');
    assert.equal(e2.roomUpdated![0].change, 'joined');
    await d1.invoke('inviteToRoom', room.id, bob.user.id);
    // Each message written once the last was read (as in the first scenario: a send is answered
    // once stored and published, not once every node delivered it).
    const both = (n: number) => Promise.all([waitN(e1.messageReceived!, n), waitN(e2.messageReceived!, n)]);
    await send(d1, room.id, 'from device 1');
    await both(1);
    await send(b, room.id, 'from bob');
    await both(2);
    await send(d2, room.id, 'from device 2');
    await both(3);
    await settle(200);
    const texts = ['from device 1', 'from bob', 'from device 2'];
    assert.deepEqual(
      e1.messageReceived!.map((m) => m.text),
      texts,
    );
    assert.deepEqual(
      e2.messageReceived!.map((m) => m.text),
      texts,
    );
  });

  test(`${name}: history after being away: afterSeq on another node gives exactly what was missed`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob] = await Promise.all([c.register('alice'), c.register('bob')]);
    const a = await c.nodes[0]!.connect(alice.token);
    let b = await c.nodes[1]!.connect(bob.token);
    const room = await a.invoke('createRoom', { name: 'away', isPrivate: false });
    await b.invoke('joinRoom', room.id);
    for (let i = 1; i <= 3; i++) await send(a, room.id, `m${i}`);
    await b.stop();
    for (let i = 4; i <= 7; i++) await send(a, room.id, `m${i}`);
    b = await c.nodes[2]!.connect(bob.token);
    const eb = record(b);
    const missed = await b.invoke('getHistory', { roomId: room.id, afterSeq: 3 });
    assert.deepEqual(
      missed.map((m: Wire) => [m.seq, m.text]),
      [
        [4, 'm4'],
        [5, 'm5'],
        [6, 'm6'],
        [7, 'm7'],
      ],
    );
    // Back on another node, the room's messages reach the returning connection (the server put it
    // into the room's group on connect).
    await send(a, room.id, 'm8');
    await waitN(eb.messageReceived!, 1);
    assert.equal(eb.messageReceived![0].seq, 8);
  });

  test(`${name}: a retry after reconnecting to another node stores and delivers the message once`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob] = await Promise.all([c.register('alice'), c.register('bob')]);
    let a = await c.nodes[0]!.connect(alice.token);
    const b = await c.nodes[2]!.connect(bob.token);
    const eb = record(b);
    const room = await a.invoke('openDirect', [bob.user.id]);
    const clientMessageId = cid();
    const first = await send(a, room.id, 'only once', clientMessageId);
    await a.stop();
    a = await c.nodes[1]!.connect(alice.token);
    const retry = await send(a, room.id, 'only once', clientMessageId);
    assert.equal(retry.id, first.id);
    assert.equal(retry.seq, first.seq);
    await send(a, room.id, 'next');
    await waitN(eb.messageReceived!, 2);
    await settle(200);
    assert.deepEqual(
      eb.messageReceived!.map((m) => [m.seq, m.text]),
      [
        [1, 'only once'],
        [2, 'next'],
      ],
    );
  });

  test(`${name}: read state syncs across nodes; unread and mention counts agree everywhere`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob] = await Promise.all([c.register('alice'), c.register('bob')]);
    const a1 = await c.nodes[0]!.connect(alice.token);
    const a2 = await c.nodes[1]!.connect(alice.token);
    const b = await c.nodes[2]!.connect(bob.token);
    const room = await b.invoke('createRoom', { name: 'reads', isPrivate: false });
    await a1.invoke('joinRoom', room.id);
    await send(b, room.id, 'one');
    await send(b, room.id, `two @${alice.user.username}`);
    await send(b, room.id, 'three');
    const mine = async (conn: HubConnection) =>
      (await conn.invoke('listRooms')).find((r: Wire) => r.id === room.id);
    for (const conn of [a1, a2]) {
      const r = await mine(conn);
      assert.deepEqual([r.unreadCount, r.mentionCount, r.lastMessage.text], [3, 1, 'three']);
    }
    const e2 = record(a2);
    const state = await a1.invoke('markRead', { roomId: room.id, seq: 2 });
    assert.deepEqual(state, { roomId: room.id, lastReadSeq: 2, unreadCount: 1, mentionCount: 0 });
    await waitN(e2.readUpdated!, 1);
    assert.deepEqual(e2.readUpdated![0], state);
    const r2 = await mine(a2);
    assert.deepEqual([r2.unreadCount, r2.mentionCount], [1, 0]);
  });

  test(`${name}: presence is cluster-wide: one online and one offline transition, whatever node`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [alice, bob, carol] = await Promise.all([
      c.register('alice'),
      c.register('bob'),
      c.register('carol'),
    ]);
    const b = await c.nodes[2]!.connect(bob.token);
    const ca = await c.nodes[1]!.connect(carol.token);
    const room = await b.invoke('createRoom', { name: 'presence', isPrivate: false });
    await ca.invoke('joinRoom', room.id);
    await b.invoke('inviteToRoom', room.id, alice.user.id);
    const wb = record(b);
    // Alice comes online on node 1, then also on node 2: one online transition.
    const a1 = await c.nodes[0]!.connect(alice.token);
    await waitN(wb.presenceChanged!, 1, 'online');
    assert.deepEqual([wb.presenceChanged![0].userId, wb.presenceChanged![0].online], [alice.user.id, true]);
    const a2 = await c.nodes[1]!.connect(alice.token);
    await a1.stop();
    await settle(GRACE_MS + 300);
    assert.equal(wb.presenceChanged!.length, 1, 'one of two connections leaving is no transition');
    const [onB, onC] = await Promise.all([
      b.invoke('getPresence', [alice.user.id]),
      ca.invoke('getPresence', [alice.user.id]),
    ]);
    assert.deepEqual(onB, onC);
    assert.equal(onB[0].online, true);
    // The last connection leaves: one offline transition after the grace, the same on every node.
    await a2.stop();
    await waitN(wb.presenceChanged!, 2, 'offline');
    await settle(GRACE_MS);
    assert.equal(wb.presenceChanged!.length, 2);
    assert.equal(wb.presenceChanged![1].online, false);
    const [offB, offC] = await Promise.all([
      b.invoke('getPresence', [alice.user.id]),
      ca.invoke('getPresence', [alice.user.id]),
    ]);
    assert.deepEqual(offB, offC);
    assert.deepEqual(offB[0], {
      userId: alice.user.id,
      online: false,
      lastSeenAt: wb.presenceChanged![1].lastSeenAt,
      status: 'offline',
    });
  });

  test(`${name}: support across nodes: live queue, claim, agent gone -> requeue, next agent sees history, close`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const [agent1, agent2] = await Promise.all([c.agent('agent1'), c.agent('agent2')]);
    const guest = await c.guest('Customer', c.nodes[0]);
    const customer = await c.nodes[0]!.connect(guest.token);
    const a1 = await c.nodes[1]!.connect(agent1.token);
    const a2 = await c.nodes[2]!.connect(agent2.token);
    const [ec, e1, e2] = [record(customer), record(a1), record(a2)];
    const request = await customer.invoke('openSupportRequest', { subject: 'Order', text: 'it broke' });
    const seen = (e: Record<string, Wire[]>) => () =>
      e.supportQueueUpdated!.some((u) => u.request.id === request.id && u.request.status === 'open');
    await waitFor(seen(e1), 15_000, 'the queue on node 2');
    await waitFor(seen(e2), 15_000, 'the queue on node 3');

    const claimed = await a1.invoke('claimSupportRequest', request.id);
    assert.equal(claimed.agentId, agent1.user.id);
    await waitFor(
      () => ec.supportRequestUpdated!.some((u) => u.request.status === 'assigned'),
      15_000,
      'the customer told of the claim',
    );
    await send(a1, request.roomId, 'looking into it');
    await waitFor(() => ec.messageReceived!.some((m) => m.text === 'looking into it'), 15_000, 'the reply');

    // Agent 1 goes away: after the grace the request is back in the queue, both sides are told.
    await a1.stop();
    // Node 3's agent saw it open, then assigned, then open again.
    const updates = () => e2.supportQueueUpdated!.filter((u) => u.request.id === request.id);
    await waitFor(
      () =>
        updates().some(
          (u, i) => u.request.status === 'open' && updates()[i - 1]?.request.status === 'assigned',
        ),
      15_000,
      'the requeue on node 3',
    );
    const requeued = updates().at(-1).request;
    assert.deepEqual([requeued.status, requeued.agentId], ['open', null]);
    await waitFor(
      () => ec.supportRequestUpdated!.some((u) => u.request.status === 'open' && u.request.agentId === null),
      15_000,
      'the customer told of the requeue',
    );

    // The next agent claims it on another node and sees the earlier history; close tells both.
    assert.equal((await a2.invoke('claimSupportRequest', request.id)).agentId, agent2.user.id);
    assert.deepEqual(
      (await a2.invoke('getHistory', { roomId: request.roomId })).map((m: Wire) => m.text),
      ['it broke', 'looking into it'],
    );
    const before = e2.supportRequestUpdated!.length;
    await a2.invoke('closeSupportRequest', request.id);
    await waitFor(
      () => ec.supportRequestUpdated!.some((u) => u.request.status === 'closed'),
      15_000,
      'the customer told of the close',
    );
    await waitN(e2.supportRequestUpdated!, before + 1, 'the agent told of the close');
  });

  if (other && !other.lagProbes) return;
  test(`${name}: /metrics on every node: connections, invocations, messages, the backplane's counters and its lag from each other node`, async (t) => {
    const c = await ready(t);
    if (!c) return;
    const alice = await c.register('alice');
    const conns = await Promise.all(c.nodes.map((node) => node.connect(alice.token)));
    const room = await conns[0]!.invoke('createRoom', { name: 'metrics', isPrivate: false });
    await Promise.all(conns.map((conn) => send(conn, room.id, 'counted')));
    for (const node of c.nodes) {
      const others = c.nodes.filter((n) => n !== node).map((n) => n.nodeId);
      let text = '';
      const deadline = Date.now() + 15_000;
      const hasLag = () =>
        others.every((o) => text.includes(`switchboard_backplane_lag_seconds{from="${o}"}`));
      while (!hasLag() && Date.now() < deadline) {
        text = await node.metrics();
        if (!hasLag()) await settle(100);
      }
      assert.ok(hasLag(), `${node.nodeId} reports lag from ${others.join(', ')}:\n${text}`);
      assert.ok(metricValue(text, 'signalr_server_active_connections')! >= 1, node.nodeId);
      assert.ok(metricValue(text, 'switchboard_invocations_total')! >= 1);
      assert.ok(metricValue(text, 'chat_messages_stored_total')! >= 1);
      assert.match(text, /^# TYPE switchboard_errors_total counter$/m);
      assert.ok(metricValue(text, 'switchboard_backplane_lag_probes_total')! > 0);
      assert.ok(
        metricValue(text, 'switchboard_backplane_published_total')! > 0,
        "the backplane's own counters",
      );
    }
  });
}
