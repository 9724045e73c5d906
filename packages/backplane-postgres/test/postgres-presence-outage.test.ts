// PostgresPresenceStore when one node loses the database for longer than its lease, on real
// PostgreSQL: the node reaches the server through a TCP proxy in this test, which is cut and later
// restored. The others sweep it once; when it is back it re-asserts its lease, connections and
// groups, and its users are announced online again once. Events trimmed from the log while a node
// was away are reported as lost, never skipped silently. One schema per test, dropped after.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import type { NewPresenceConnection, PresenceEvent } from '@switchboard/server';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import { PostgresPresenceStore } from '../src/presence/postgres-presence-store.ts';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresService = { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 } as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const graceMs = 200;
const leaseMs = 600;

const postgresUp = await new Promise<boolean>((resolve) => {
  const probe = createConnection({ host: postgresService.host, port: postgresService.port });
  const done = (up: boolean) => {
    probe.destroy();
    resolve(up);
  };
  probe.setTimeout(1_000, () => done(false));
  probe.once('connect', () => done(true));
  probe.once('error', () => done(false));
});
test('PostgreSQL for the presence outage test', async (t) => {
  await requireService(t, postgresService);
});

/** A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused). */
async function startProxy() {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: postgresService.host, port: postgresService.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut(): void {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore(): void {
      cut = false;
    },
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const conn = (connectionId: string, userId: string): NewPresenceConnection => ({
  connectionId,
  userId,
  transport: 'WebSockets',
  connectedAt: 1_700_000_000_000,
  device: { type: 'desktop', browser: 'Firefox' },
});

if (postgresUp) {
  test('a node cut off for longer than its lease is swept once, then re-asserts its connections and groups', async () => {
    const schema = `sbp_outage_${process.pid}_${randomUUID().slice(0, 8)}`;
    const proxy = await startProxy();
    const errors = new Map<string, unknown[]>();
    const logged: string[] = [];
    const logger = {
      debug: () => {},
      info: (event: string) => logged.push(event),
      warn: (event: string) => logged.push(event),
      error: (event: string) => logged.push(event),
    };
    const node = (nodeId: string, pgUrl: string) => {
      errors.set(nodeId, []);
      return new PostgresPresenceStore({
        pg: pgUrl,
        schema,
        nodeId,
        graceMs,
        leaseMs,
        onError: (error) => errors.get(nodeId)!.push(error),
        ...(nodeId === 'a' ? { logger } : {}),
      });
    };
    const a = node('a', `postgres://postgres@127.0.0.1:${proxy.port}/test`);
    const b = node('b', URL);
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    try {
      await Promise.all([a.ready, b.ready]);
      const logs = [a, b].map((store) => {
        const log: PresenceEvent[] = [];
        store.subscribe((e) => log.push(e));
        return log;
      });
      await a.addConnection(conn('a-ada', 'ada'));
      await a.addToGroup('a-ada', 'room');
      await b.addConnection(conn('b-bob', 'bob'));
      await b.addToGroup('b-bob', 'room');
      await waitFor(() => logs.every((l) => l.length === 2), leaseMs, 'both online');
      proxy.cut();
      // Node b sweeps node a after its lease, and ada goes offline after the grace.
      await waitFor(
        () => logs[1]!.some((e) => e.type === 'userOffline' && e.userId === 'ada'),
        leaseMs * 2 + graceMs + leaseMs,
        'ada offline on node b',
      );
      assert.equal(await b.groupConnectionCount('room'), 1, "node a's connection was swept");
      assert.ok(errors.get('a')!.length > 0, 'node a reported the lost database');
      proxy.restore();
      await waitFor(
        async () => (await b.groupConnectionCount('room')) === 2,
        5_000,
        'node a to re-assert its connection and its group',
      );
      assert.deepEqual(
        (await b.userConnections('ada')).map((c) => `${c.connectionId}@${c.nodeId}`),
        ['a-ada@a'],
      );
      await waitFor(() => logs.every((l) => l.length === 4), 5_000, 'ada online again on both nodes');
      await sleep(leaseMs * 2 + graceMs * 2); // a second sweep or a duplicate would show now
      const expected = ['userOnline:ada:a', 'userOnline:bob:b', 'userOffline:ada:b', 'userOnline:ada:a'];
      for (const log of logs) {
        const seen = log.map((e) => `${e.type}:${e.userId}:${e.originNodeId}`);
        assert.deepEqual(seen.slice(0, 2).sort(), expected.slice(0, 2).sort());
        assert.deepEqual(seen.slice(2), expected.slice(2), 'swept once by b, back once through a');
      }
      assert.ok(a.counters.reasserts >= 1, 'node a re-asserted');
      for (const event of ['presence.error', 'presence.reasserted']) {
        assert.ok(logged.includes(event), `node a logged ${event}`);
      }
      assert.deepEqual(errors.get('b'), [], 'node b saw nothing wrong');
      // Node a is a full member again: its own transitions are decided by it.
      await a.removeConnection('a-ada');
      await waitFor(() => logs.every((l) => l.length === 5), graceMs + leaseMs, 'ada offline');
      for (const log of logs) assert.equal(log[4]!.originNodeId, 'a');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
}

if (postgresUp) {
  test('a node whose database is unreachable at start joins once it answers (the heartbeat retries the join)', async () => {
    const schema = `sbp_join_${process.pid}_${randomUUID().slice(0, 8)}`;
    const proxy = await startProxy();
    proxy.cut(); // no connection gets through: the schema cannot even be created
    const errors: unknown[] = [];
    const a = new PostgresPresenceStore({
      pg: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      schema,
      nodeId: 'a',
      graceMs,
      leaseMs,
      onError: (error) => errors.push(error),
    });
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    try {
      await a.ready; // resolves after the failed join, reported
      assert.ok(errors.length > 0 && a.counters.errors > 0, 'the failed join was reported');
      proxy.restore();
      const lease = async () =>
        (
          await admin
            .query(`SELECT 1 FROM ${schema}.presence_nodes WHERE node_id = 'a'`)
            .catch(() => ({ rowCount: 0 }))
        ).rowCount === 1;
      await waitFor(lease, 10_000, 'node a to migrate the schema and take its lease');
      // Joined: its transitions are decided and heard as any member's.
      const heard: PresenceEvent[] = [];
      a.subscribe((e) => heard.push(e));
      await a.addConnection(conn('a-ada', 'ada'));
      await waitFor(() => heard.length === 1, 5_000, 'userOnline of ada');
      assert.equal(await a.isOnline('ada'), true);
      assert.equal(a.counters.reasserts, 0, 'a join, not a re-assert');
    } finally {
      await a.close();
      await proxy.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
}

if (postgresUp) {
  test('events trimmed from the log while a node was away are reported as lost; delivery goes on', async () => {
    const schema = `sbp_gap_${process.pid}_${randomUUID().slice(0, 8)}`;
    const proxy = await startProxy();
    const aErrors: unknown[] = [];
    // A long lease (nobody is swept), a frequent heartbeat (node b trims often), a short log.
    const timing = { graceMs, leaseMs: 5_000, heartbeatIntervalMs: 100, eventLogLength: 3 };
    const a = new PostgresPresenceStore({
      pg: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      schema,
      nodeId: 'a',
      onError: (error) => aErrors.push(error),
      ...timing,
    });
    const b = new PostgresPresenceStore({ pg: URL, schema, nodeId: 'b', ...timing });
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    try {
      await Promise.all([a.ready, b.ready]);
      const heard: PresenceEvent[] = [];
      a.subscribe((e) => heard.push(e));
      proxy.cut();
      const away = Array.from({ length: 10 }, (_, i) => `away${i}`);
      for (const u of away) await b.addConnection(conn(`b-${u}`, u));
      // Node b's heartbeat trims the log to its last three events.
      await waitFor(
        async () =>
          (await admin.query(`SELECT 1 FROM ${schema}.presence_events`)).rowCount === timing.eventLogLength,
        5_000,
        'the log to be trimmed',
      );
      proxy.restore();
      await waitFor(
        () => aErrors.some((e) => (e as { code?: string }).code === 'SB_ERR_BACKPLANE_REPLAY_GAP'),
        5_000,
        'node a to report the lost events',
      );
      await waitFor(() => heard.length === 3, 5_000, 'node a to deliver what the log still holds');
      assert.deepEqual(
        heard.map((e) => e.userId),
        away.slice(-3),
        'the kept tail, in order',
      );
      await b.addConnection(conn('b-back', 'back'));
      await waitFor(() => heard.length === 4, 5_000, 'the next event');
      assert.equal(heard[3]!.userId, 'back');
      assert.deepEqual((await a.onlineUsers()).length, 11, 'queries read the tables, not the events');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
}
