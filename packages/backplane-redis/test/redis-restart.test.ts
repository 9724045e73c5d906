// A restart of Redis itself: our own redis-server (no persistence) is stopped with SIGTERM while
// three nodes send, and started again on the same port about a second later.
//
// What a restart without persistence does: every key is gone, the replay logs included. So:
// - A send made while a node knows Redis is down waits in the node's bounded publish queue
//   (`maxQueuedPublishes`) and is written after the restart: it must reach every member once, in
//   order. The same holds for every send after the restart.
// - A send written to Redis before the stop and not yet delivered live to a receiver cannot be
//   replayed: its log went with the restart. The test allows such a loss only for the messages a
//   receiver had not yet received when SIGTERM was sent (it records that point), and prints how
//   many it saw. Nothing is ever allowed twice or out of order.
//   Such a loss has no number (the new log starts empty, so the first entry after the restart
//   carries no previous id), but it is never silent: after reconnecting, every node finds that
//   the group's log no longer holds the last entry it delivered and starts anew, and reports
//   SB_ERR_BACKPLANE_LOG_RESET (`counters.logResets`).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { NewPresenceConnection, PresenceEvent } from '@switchboard/server';
import { requireService } from '../../testkit/src/services.ts';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { RedisHubLifetimeManager, RedisPresenceStore } from '../src/index.ts';
import { sleep, uniquePrefix, until } from './helpers.ts';

const REDIS_SERVER =
  process.env.REDIS_SERVER ??
  ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ??
  '/usr/bin/redis-server';
const redisServerService = { kind: 'file', name: 'redis-server', path: REDIS_SERVER } as const;

/** A redis-server child of this test process on a port of its own, without persistence. */
class OwnRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sb-redis-restart-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server on the port and waits (at most 5 s) until it accepts connections. */
  async start(): Promise<void> {
    assert.equal(this.child, undefined, 'redis-server already running');
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 5_000;
    while (!(await accepts(this.port))) {
      if (this.child !== child) throw new Error(`redis-server on ${this.port} exited at start`);
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start within 5 s`);
      await sleep(20);
    }
  }

  /** SIGTERM (a clean stop); waits at most 5 s for the exit, then SIGKILL. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** For `finally`: the child never outlives the test. */
  async dispose(): Promise<void> {
    const child = this.child;
    if (child) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(2_000)]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  static readonly all = new Set<OwnRedis>();
}

after(async () => {
  for (const redis of OwnRedis.all) await redis.dispose();
});

async function ownRedis(): Promise<OwnRedis> {
  const redis = await OwnRedis.start();
  OwnRedis.all.add(redis);
  return redis;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

test('Redis restarts (no persistence) while three nodes send: sends queued while it is down and sent after arrive everywhere once, in order', async (t) => {
  if (!(await requireService(t, redisServerService))) return;
  const redis = await ownRedis();
  const prefix = uniquePrefix();
  const errors: string[] = [];
  const nodes = ['n0', 'n1', 'n2'].map(
    (nodeId) =>
      new RedisHubLifetimeManager({
        redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 100 },
        prefix,
        nodeId,
        maxQueuedPublishes: 1_000,
        onError: (e) => errors.push(e.code),
      }),
  );
  try {
    await Promise.all(nodes.map((n) => n.ready(5_000)));
    assert.ok(
      nodes.every((n) => n.connected),
      'every node connected',
    );
    // A member of the group on every node; every node sends.
    const members = nodes.map((_, i) => new RecordingConnection(`member-${i}`));
    for (const [i, node] of nodes.entries()) {
      await node.onConnected(members[i]!);
      await node.addToGroup(members[i]!.connectionId, 'g');
    }
    const send = (i: number) => Promise.all(nodes.map((node, n) => node.sendGroup('g', 'm', [`${n}:${i}`])));

    // Phase 1: Redis up. No settling before the stop: the last 20 go out in one burst right
    // before SIGTERM, so some are still on their way (in ioredis's queue, on the wire, or
    // published but not yet received) when Redis stops.
    const before = 60;
    for (let i = 0; i < before; i++) {
      await send(i);
      if (i < before - 20) await sleep(2);
    }
    const receivedAtStop = members.map((m) => new Set(m.tags() as string[]));
    const stopped = redis.stop();
    await until(() => nodes.every((n) => !n.connected), 'every node to see Redis gone', 5_000);
    await stopped;
    const queuedBefore = nodes.map((n) => n.counters.queued);

    // Phase 2: Redis down for about a second; every node knows, so every send is queued.
    let i = before;
    const downUntil = Date.now() + 1_000;
    while (Date.now() < downUntil) {
      await send(i++);
      await sleep(20);
    }
    const sentWhileDown = i - before;
    for (const [n, node] of nodes.entries())
      assert.equal(node.counters.queued - queuedBefore[n]!, sentWhileDown, `n${n} queued every send`);
    await redis.start();

    // Phase 3: Redis back (empty); the nodes reconnect while the sends go on.
    const count = i + 60;
    for (; i < count; i++) {
      await send(i);
      await sleep(2);
    }

    // Every member must hold, per sender, all of [before, count) and, of [0, before), everything
    // it had at the stop; wait for that (bounded), then a little more for any duplicate.
    const required = (m: number, n: number) =>
      Array.from({ length: count }, (_, k) => `${n}:${k}`).filter(
        (tag) => Number(tag.split(':')[1]) >= before || receivedAtStop[m]!.has(tag),
      );
    await until(
      () =>
        members.every((member, m) => {
          const got = new Set(member.tags() as string[]);
          return nodes.every((_, n) => required(m, n).every((tag) => got.has(tag)));
        }),
      'every member to get every required message',
      15_000,
    );
    await Promise.all(nodes.map((n) => n.flush()));
    await sleep(300);

    let lostAtStop = 0;
    for (const [m, member] of members.entries()) {
      const tags = member.tags() as string[];
      assert.equal(new Set(tags).size, tags.length, `${member.connectionId}: nothing twice`);
      for (const [n] of nodes.entries()) {
        const numbers = tags.filter((tag) => tag.startsWith(`${n}:`)).map((tag) => Number(tag.split(':')[1]));
        for (let k = 1; k < numbers.length; k++)
          assert.ok(
            numbers[k]! > numbers[k - 1]!,
            `${member.connectionId} from n${n}: in order (${numbers})`,
          );
        const got = new Set(numbers);
        for (let k = before; k < count; k++)
          assert.ok(got.has(k), `${member.connectionId} from n${n}: ${k} (sent while down or after) arrived`);
        for (let k = 0; k < before; k++) {
          if (got.has(k)) continue;
          assert.ok(
            !receivedAtStop[m]!.has(`${n}:${k}`),
            `${member.connectionId} from n${n}: ${k} was received before the stop`,
          );
          lostAtStop++;
        }
      }
    }
    t.diagnostic(
      `sent ${count} per node (${sentWhileDown} while Redis was down); ` +
        `in flight at the stop and lost with the log: ${lostAtStop} (member, message) pairs; ` +
        `counters: ${nodes.map((n) => JSON.stringify({ q: n.counters.queued, r: n.counters.reconnects, rp: n.counters.replayed, d: n.counters.duplicatesDropped, l: n.counters.lost, lr: n.counters.logResets })).join(' ')}`,
    );
    for (const node of nodes) {
      assert.equal(node.counters.queueOverflows, 0, 'the queue (1 000) was never full');
      assert.ok(node.counters.reconnects >= 1, 'the pub/sub connection came back');
      assert.ok(node.counters.logResets >= 1, "the group log's reset was seen and counted");
    }
    assert.ok(
      errors.every(
        (code) => code === 'SB_ERR_BACKPLANE_UNAVAILABLE' || code === 'SB_ERR_BACKPLANE_LOG_RESET',
      ),
      `only connection errors and the log reset reported: ${[...new Set(errors)]}`,
    );
    assert.ok(errors.includes('SB_ERR_BACKPLANE_LOG_RESET'), 'the reset reached onError');
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    await redis.dispose();
    OwnRedis.all.delete(redis);
  }
});

test('Redis restarts (no persistence): every presence node re-asserts its lease and connections; users stay online everywhere, nothing announced twice', async (t) => {
  if (!(await requireService(t, redisServerService))) return;
  const redis = await ownRedis();
  const prefix = `${uniquePrefix()}presence:`;
  // A node must be back within lease + grace after the restart, or its users briefly go offline
  // (the documented bound); the client retries reconnecting with growing delays, so under load on
  // two cores a 600 ms lease was too tight to keep that bound reliably.
  const graceMs = 300;
  const leaseMs = 2_000;
  const errors: unknown[] = [];
  const stores = ['a', 'b', 'c'].map(
    (nodeId) =>
      new RedisPresenceStore({
        redis: redis.url,
        prefix,
        nodeId,
        graceMs,
        leaseMs,
        onError: (error) => errors.push(error),
      }),
  );
  const conn = (connectionId: string, userId: string): NewPresenceConnection => ({
    connectionId,
    userId,
    transport: 'WebSockets',
    connectedAt: 1_700_000_000_000,
    device: { type: 'desktop', browser: 'Firefox' },
  });
  const logs = stores.map(() => [] as string[]);
  // When each event arrived, in ms after Redis was started again (for a failure's message).
  let restartedAt = 0;
  const timeline: string[] = [];
  try {
    await Promise.all(stores.map((s) => s.ready));
    for (const [i, store] of stores.entries())
      store.subscribe((e: PresenceEvent) => {
        logs[i]!.push(`${e.type}:${e.userId}`);
        timeline.push(
          `${store.nodeId}@${restartedAt ? Date.now() - restartedAt : '-'}ms ${e.type}:${e.userId}`,
        );
      });
    const [a, b, c] = stores as [RedisPresenceStore, RedisPresenceStore, RedisPresenceStore];
    await a.addConnection(conn('a-ada', 'ada'));
    await b.addConnection(conn('b-bob', 'bob'));
    await c.addConnection(conn('c-ada', 'ada'));
    await c.addConnection(conn('c-cy', 'cy'));
    await a.addToGroup('a-ada', 'room');
    await b.addToGroup('b-bob', 'room');
    await until(() => logs.every((l) => l.length === 3), 'three users online on every node', 5_000);

    await redis.stop();
    await sleep(1_000);
    await redis.start();
    restartedAt = Date.now();

    // Within a heartbeat (leaseMs / 3) after the reconnect; bounded generously.
    const deadline = Date.now() + 5 * leaseMs + 2_000;
    const state = async () =>
      Promise.all(
        stores.map(async (s) =>
          JSON.stringify([
            (await s.onlineUsers()).sort(),
            (await s.userConnections('ada')).map((k) => k.connectionId).sort(),
            await s.groupConnectionCount('room'),
          ]),
        ),
      );
    const expected = JSON.stringify([['ada', 'bob', 'cy'], ['a-ada', 'c-ada'], 2]);
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await state();
      if (seen.every((s) => s === expected)) break;
      await sleep(50);
    }
    assert.deepEqual(
      seen,
      [expected, expected, expected],
      'every node sees the cluster as before the restart',
    );

    // Leases and grace periods run out: nobody is swept, nobody goes offline, nothing twice.
    await sleep(2 * leaseMs + 2 * graceMs);
    assert.deepEqual(await a.onlineUsers().then((u) => u.sort()), ['ada', 'bob', 'cy']);
    const why = () =>
      `events: ${timeline.join(', ')}; errors: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join(' | ')}`;
    for (const log of logs)
      assert.deepEqual(log, ['userOnline:ada', 'userOnline:bob', 'userOnline:cy'], why());

    // The cluster still works: one transition, announced once on every node.
    await b.removeConnection('b-bob');
    await until(() => logs.every((l) => l.length === 4), 'bob offline on every node', graceMs + 2 * leaseMs);
    await sleep(graceMs * 2);
    for (const log of logs) assert.deepEqual(log.slice(3), ['userOffline:bob']);
    const codes = errors.map((e) => (e as { code?: string }).code);
    t.diagnostic(`errors reported across the restart: ${codes.length} (${[...new Set(codes)]})`);
    assert.ok(
      codes.every((code) => code === 'SB_ERR_BACKPLANE_UNAVAILABLE'),
      `only connection errors reported: ${[...new Set(codes)]}`,
    );
  } finally {
    await Promise.race([Promise.all(stores.map((s) => s.close())), sleep(3_000)]);
    for (const s of stores) s.destroyWithoutCleanup();
    await redis.dispose();
    OwnRedis.all.delete(redis);
  }
});
