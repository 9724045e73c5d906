import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type NewPresenceConnection,
  type PresenceEvent,
  type PresenceStore,
  SwitchboardError,
} from '@switchboard/server';
import { requireService, waitFor } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { presenceStoreSuite } from '../../testkit/src/suites/presence-store-suite.ts';
import { RedisPresenceStore, type RedisPresenceStoreOptions } from '../src/presence/redis-presence-store.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisService = { kind: 'tcp', name: 'Redis', host: '127.0.0.1', port: 6379 } as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Deletes every key of a prefix (FLUSHDB is not allowed on the shared server). */
async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A fresh cluster of stores on a unique prefix. */
function cluster(options: Omit<RedisPresenceStoreOptions, 'prefix' | 'nodeId' | 'redis'>) {
  const prefix = `test:presence:${randomUUID()}:`;
  const stores: RedisPresenceStore[] = [];
  const errors: unknown[] = [];
  return {
    prefix,
    stores,
    errors,
    async node(nodeId: string): Promise<RedisPresenceStore> {
      const store = new RedisPresenceStore({
        redis: REDIS_URL,
        prefix,
        nodeId,
        onError: (error, event) => {
          if (!event) errors.push(error); // the suite's throwing listener is expected
        },
        ...options,
      });
      stores.push(store);
      await store.ready;
      return store;
    },
    async close(admin?: Redis): Promise<void> {
      await Promise.all(stores.map((s) => s.close()));
      if (admin) await deletePrefix(admin, prefix);
    },
  };
}

// Whether Redis is there decides what is registered: without it (and without CI=true) one test
// says loudly that everything was skipped; under CI=true that test fails.
const redisUp = await new Promise<boolean>((resolve) => {
  const probe = createConnection({ host: redisService.host, port: redisService.port });
  const done = (up: boolean) => {
    probe.destroy();
    resolve(up);
  };
  probe.setTimeout(1_000, () => done(false));
  probe.once('connect', () => done(true));
  probe.once('error', () => done(false));
});
test('Redis for the presence store tests', async (t) => {
  await requireService(t, redisService);
});

if (redisUp) {
  presenceStoreSuite('RedisPresenceStore (shared suite, real Redis, real time)', async () => {
    const c = cluster({ graceMs: 200, leaseMs: 600 });
    const admin = new Redis(REDIS_URL);
    return {
      node: (nodeId) => c.node(nodeId),
      crash: async (store) => (store as RedisPresenceStore).destroyWithoutCleanup(),
      advance: (ms) => sleep(ms),
      close: async () => {
        await c.close(admin);
        await admin.quit();
        assert.deepEqual(c.errors, [], 'no Redis error reported');
      },
    };
  });

  const conn = (connectionId: string, userId: string): NewPresenceConnection => ({
    connectionId,
    userId,
    transport: 'WebSockets',
    connectedAt: 1_700_000_000_000,
    device: { type: 'desktop', browser: 'Firefox' },
  });

  const kinds = (log: readonly PresenceEvent[]) =>
    log.map((e) => `${e.type === 'userOnline' ? 'online' : 'offline'}:${e.userId}`);

  function record(store: PresenceStore): PresenceEvent[] {
    const log: PresenceEvent[] = [];
    store.subscribe((e) => log.push(e));
    return log;
  }

  test('bad timing options are refused with SB_ERR_HUB_CONFIGURATION before connecting', () => {
    const refused = (options: RedisPresenceStoreOptions) =>
      assert.throws(
        () => new RedisPresenceStore({ redis: REDIS_URL, ...options }),
        (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_ERR_HUB_CONFIGURATION',
      );
    refused({ graceMs: -1 });
    refused({ leaseMs: Number.NaN });
    refused({ leaseMs: 300, heartbeatIntervalMs: 300 });
    refused({ eventLogLength: 0 });
  });

  describe('RedisPresenceStore across three nodes', () => {
    const graceMs = 200;
    const leaseMs = 600;
    let admin: Redis;
    before(() => {
      admin = new Redis(REDIS_URL);
    });
    after(async () => {
      await admin.quit();
    });

    test('after the prefix is deleted (a flush), every node re-asserts its lease and connections within a heartbeat, announcing nothing', async (t) => {
      if (!(await requireService(t, redisService))) return;
      const c = cluster({ graceMs, leaseMs });
      try {
        const [a, b, x] = [await c.node('a'), await c.node('b'), await c.node('c')];
        const logs = [record(a), record(b), record(x)];
        await a.addConnection(conn('a-ada', 'ada'));
        await b.addConnection(conn('b-bob', 'bob'));
        await x.addConnection(conn('c-ada', 'ada'));
        await a.addToGroup('a-ada', 'room');
        await x.addToGroup('b-bob', 'room'); // set from another node than the owner
        await waitFor(() => logs.every((l) => l.length === 2), leaseMs, 'both online everywhere');
        const deleted = await deletePrefix(admin, c.prefix);
        assert.ok(deleted > 5, `deleted ${deleted} keys`);
        assert.deepEqual(await a.userConnections('ada'), [], 'really gone');
        await sleep(leaseMs / 3 + 100); // one heartbeat, and some slack
        for (const store of [a, b, x]) {
          assert.deepEqual((await store.userConnections('ada')).map((k) => k.connectionId).sort(), [
            'a-ada',
            'c-ada',
          ]);
          assert.deepEqual((await store.onlineUsers()).sort(), ['ada', 'bob']);
          assert.equal(await store.groupConnectionCount('room'), 2);
          assert.deepEqual((await store.groupUsers('room')).sort(), ['ada', 'bob']);
        }
        assert.equal(await admin.exists(`${c.prefix}lease:a`), 1, 'lease re-asserted');
        await sleep(leaseMs * 2 + graceMs * 2); // nobody swept, no duplicate online
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada', 'online:bob']);
        // The cluster still works after the flush: a transition is announced once everywhere.
        await b.removeConnection('b-bob');
        await waitFor(() => logs.every((l) => l.length === 3), graceMs + leaseMs, 'bob offline');
        await sleep(graceMs * 2);
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada', 'online:bob', 'offline:bob']);
        assert.deepEqual(c.errors, []);
      } finally {
        await c.close(admin);
      }
    });

    test('a user in the grace period at the flush still goes offline once', async (t) => {
      if (!(await requireService(t, redisService))) return;
      const c = cluster({ graceMs, leaseMs });
      try {
        const [a, b] = [await c.node('a'), await c.node('b')];
        const logs = [record(a), record(b)];
        await a.addConnection(conn('a-ada', 'ada'));
        await a.removeConnection('a-ada'); // grace runs
        await deletePrefix(admin, c.prefix);
        await waitFor(
          () => logs.every((l) => l.length === 2),
          leaseMs * 2 + graceMs + leaseMs,
          'ada offline after the flush',
        );
        await sleep(leaseMs + graceMs);
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada', 'offline:ada']);
        assert.equal(await b.isOnline('ada'), false);
      } finally {
        await c.close(admin);
      }
    });

    test('events are delivered exactly once on every node, including one whose subscription was cut', async (t) => {
      if (!(await requireService(t, redisService))) return;
      const c = cluster({ graceMs: 50, leaseMs });
      try {
        const [a, b, x] = [await c.node('a'), await c.node('b'), await c.node('c')];
        const logs = [record(a), record(b), record(x)];
        const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
        // Cut node c's subscriber connection; events published until it resubscribes are not
        // delivered to it by pub/sub and must come from the log.
        const killed = await killSubscriber(admin, c.prefix, x.nodeId);
        assert.equal(killed, 1, "node c's subscriber connection was cut");
        await Promise.all(users.map((u, i) => (i % 2 ? a : b).addConnection(conn(`k-${u}`, u))));
        await Promise.all(users.map((u, i) => (i % 2 ? b : a).removeConnection(`k-${u}`)));
        const expected = users.length * 2;
        await waitFor(
          () => logs.every((l) => l.length >= expected),
          leaseMs * 2 + 50,
          'every node to hear every event',
        );
        await sleep(leaseMs);
        for (const log of logs) {
          assert.equal(log.length, expected, 'nothing twice');
          for (const u of users) {
            assert.deepEqual(
              log.filter((e) => e.userId === u).map((e) => e.type),
              ['userOnline', 'userOffline'],
              `${u} once each, in order`,
            );
          }
        }
        // One decision per event: the same origin on every node.
        for (const u of users) {
          const origins = logs.map((l) =>
            l
              .filter((e) => e.userId === u)
              .map((e) => e.originNodeId)
              .join(),
          );
          assert.equal(new Set(origins).size, 1);
        }
        assert.ok(
          c.errors.every((e) => (e as { code?: string }).code === 'SB_ERR_BACKPLANE_UNAVAILABLE'),
          'only the cut connection was reported',
        );
      } finally {
        await c.close(admin);
      }
    });

    test('a killed node is swept once by one survivor; its users go offline once, after lease and grace', async (t) => {
      if (!(await requireService(t, redisService))) return;
      const c = cluster({ graceMs, leaseMs });
      try {
        const [a, b, x] = [await c.node('a'), await c.node('b'), await c.node('c')];
        const logs = [record(b), record(x)];
        for (let i = 0; i < 10; i++) await a.addConnection(conn(`a-${i}`, `user${i}`));
        await b.addConnection(conn('b-0', 'user0')); // connected elsewhere too
        await a.addToGroup('a-1', 'room');
        await waitFor(() => logs.every((l) => l.length === 10), leaseMs, 'all online');
        const killedAt = Date.now();
        a.destroyWithoutCleanup();
        await sleep(leaseMs / 2);
        assert.equal((await b.userConnections('user5')).length, 1, 'kept while the lease holds');
        await waitFor(async () => (await x.userConnections('user5')).length === 0, leaseMs * 2, 'the sweep');
        assert.equal(await x.groupConnectionCount('room'), 0);
        await waitFor(() => logs.every((l) => l.length === 19), graceMs + leaseMs, 'nine offlines');
        const elapsed = Date.now() - killedAt;
        assert.ok(elapsed <= leaseMs + leaseMs / 3 + graceMs + 300, `announced after ${elapsed} ms`);
        await sleep(leaseMs * 2 + graceMs * 2); // a second sweep would show now
        for (const log of logs) {
          const offlines = log.slice(10);
          assert.equal(log.length, 19);
          assert.deepEqual(offlines.map((e) => e.userId).sort(), users(1, 10).sort());
          assert.equal(new Set(offlines.map((e) => e.originNodeId)).size, 1, 'one sweeper decided all');
          assert.ok(['b', 'c'].includes(offlines[0]!.originNodeId));
        }
        assert.equal(await b.isOnline('user0'), true, 'connected elsewhere');
        assert.equal(await admin.sismember(`${c.prefix}nodes`, 'a'), 0, 'the dead node left the cluster');
      } finally {
        await c.close(admin);
      }
    });
  });
}

function users(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `user${from + i}`);
}

/** Cuts a store's subscriber connection from the server side (ioredis reconnects by itself). */
async function killSubscriber(admin: Redis, prefix: string, nodeId: string): Promise<number> {
  const name = `${prefix}${nodeId}:sub`;
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  assert.ok(line, `a client named ${name}`);
  const id = /\bid=(\d+)/.exec(line)![1]!;
  return (await admin.call('CLIENT', 'KILL', 'ID', id)) as number;
}
