// PostgresPresenceStore under faults, on real PostgreSQL: a node's connections terminated by the
// server (pg_terminate_backend), a node killed without clean-up, the tables emptied. One schema per
// test, dropped after; every node's connections carry an application_name naming schema and node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { NewPresenceConnection, PresenceEvent, PresenceStore } from '@switchboard/server';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import {
  PostgresPresenceStore,
  type PostgresPresenceStoreOptions,
} from '../src/presence/postgres-presence-store.ts';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresService = { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 } as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const graceMs = 200;
const leaseMs = 600;
/**
 * Where no lease may lapse (connections cut, tables emptied), a longer lease with the same quick
 * heartbeat: a node that reconnects on a loaded machine stays well within it.
 */
const steady = { leaseMs: 2_000, heartbeatIntervalMs: 200 } as const;

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
test('PostgreSQL for the presence fault tests', async (t) => {
  await requireService(t, postgresService);
});

let clusters = 0;

/** A fresh cluster of stores on its own schema. */
function cluster(options: Omit<PostgresPresenceStoreOptions, 'schema' | 'nodeId' | 'pg'> = {}) {
  const schema = `sbp_faults_${process.pid}_${++clusters}_${randomUUID().slice(0, 8)}`;
  const stores: PostgresPresenceStore[] = [];
  const errors: unknown[] = [];
  return {
    schema,
    errors,
    async node(nodeId: string): Promise<PostgresPresenceStore> {
      const store = new PostgresPresenceStore({
        pg: URL,
        schema,
        nodeId,
        applicationName: `${schema}/${nodeId}`,
        poolSize: 2,
        graceMs,
        leaseMs,
        onError: (error) => errors.push(error),
        ...options,
      });
      stores.push(store);
      await store.ready;
      return store;
    },
    async close(admin: pg.Client): Promise<void> {
      await Promise.all(stores.map((s) => s.close()));
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
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

const kinds = (log: readonly PresenceEvent[]) =>
  log.map((e) => `${e.type === 'userOnline' ? 'online' : 'offline'}:${e.userId}`);

function record(store: PresenceStore): PresenceEvent[] {
  const log: PresenceEvent[] = [];
  store.subscribe((e) => log.push(e));
  return log;
}

function users(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `user${from + i}`);
}

/** Terminates every server connection of one node (its pool and its LISTEN connection). */
async function terminateNode(admin: pg.Client, schema: string, nodeId: string): Promise<number> {
  const name = `${schema}/${nodeId}`;
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE application_name = $1 OR application_name = $1 || ':listen'`,
    [name],
  );
  return rows[0]!.n;
}

const codes = (errors: readonly unknown[]) => new Set(errors.map((e) => (e as { code?: string }).code));

if (postgresUp) {
  describe('PostgresPresenceStore under faults', () => {
    let admin: pg.Client;
    before(async () => {
      admin = new pg.Client({ connectionString: URL });
      await admin.connect();
    });
    after(async () => {
      await admin.end();
    });

    test("a node's connections terminated by the server: it reconnects, reads what it missed, announces nothing spurious", async () => {
      const c = cluster(steady);
      try {
        const [a, b, x] = [await c.node('a'), await c.node('b'), await c.node('c')];
        const logs = [record(a), record(b), record(x)];
        await a.addConnection(conn('a-ada', 'ada'));
        await a.addToGroup('a-ada', 'room');
        await b.addConnection(conn('b-bob', 'bob'));
        await waitFor(() => logs.every((l) => l.length === 2), steady.leaseMs, 'both online');
        const terminated = await terminateNode(admin, c.schema, 'a');
        assert.ok(terminated >= 2, `node a's pool and LISTEN connections were terminated (${terminated})`);
        // While node a reconnects, the others change things: it must hear all of it, once.
        const others = users(0, 10);
        await Promise.all(others.map((u, i) => (i % 2 ? b : x).addConnection(conn(`k-${u}`, u))));
        await Promise.all(others.map((u, i) => (i % 2 ? x : b).removeConnection(`k-${u}`)));
        const expected = 2 + others.length * 2;
        await waitFor(
          () => logs.every((l) => l.length >= expected),
          steady.leaseMs * 2 + graceMs,
          'every node to hear every event',
        );
        await waitFor(() => a.counters.reconnects >= 1, steady.leaseMs * 2, "node a's LISTEN to come back");
        await sleep(steady.leaseMs + graceMs * 2); // a sweep of node a, or a duplicate, would show now
        for (const log of logs) {
          assert.equal(log.length, expected, 'nothing twice');
          assert.deepEqual(kinds(log.slice(0, 2)).sort(), ['online:ada', 'online:bob']);
          for (const u of others) {
            assert.deepEqual(
              log.filter((e) => e.userId === u).map((e) => e.type),
              ['userOnline', 'userOffline'],
              `${u} once each, in order`,
            );
          }
        }
        // Node a kept its lease and its connection: nobody swept it.
        assert.deepEqual(
          (await x.userConnections('ada')).map((k) => k.connectionId),
          ['a-ada'],
        );
        assert.equal(await x.groupConnectionCount('room'), 1);
        assert.equal(a.counters.reasserts, 0, 'the lease was never lost');
        // Node a's pool works again, and it decides its own transitions.
        await a.removeConnection('a-ada');
        await waitFor(
          () => logs.every((l) => l.length === expected + 1),
          graceMs + steady.leaseMs,
          'ada offline',
        );
        for (const log of logs) {
          assert.deepEqual(kinds(log.slice(expected)), ['offline:ada']);
          assert.equal(log[expected]!.originNodeId, 'a');
        }
        assert.deepEqual(
          [...codes(c.errors)],
          ['SB_ERR_BACKPLANE_UNAVAILABLE'],
          'only the cut connections were reported',
        );
      } finally {
        await c.close(admin);
      }
    });

    test("every node's connections terminated while all of them make changes: each change lands once, announced once everywhere", async () => {
      const c = cluster(steady);
      try {
        const nodes = [await c.node('a'), await c.node('b'), await c.node('c')];
        const logs = nodes.map(record);
        for (const [i, node] of nodes.entries()) await node.addConnection(conn(`home-${i}`, `resident${i}`));
        await waitFor(() => logs.every((l) => l.length === 3), steady.leaseMs, 'the residents online');
        const cut = admin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE left(application_name, $2) = $1`,
          [`${c.schema}/`, c.schema.length + 1],
        );
        // Calls in flight while the connections go: retried on a new connection.
        const visitors = users(0, 12);
        await Promise.all(visitors.map((u, i) => nodes[i % 3]!.addConnection(conn(`v-${u}`, u))));
        assert.ok((await cut).rows[0]!.n >= 6, 'pools and LISTEN connections were terminated');
        await Promise.all(visitors.map((u, i) => nodes[(i + 1) % 3]!.removeConnection(`v-${u}`)));
        const expected = 3 + visitors.length * 2;
        await waitFor(
          () => logs.every((l) => l.length >= expected),
          steady.leaseMs * 2 + graceMs,
          'every node to hear every event',
        );
        await waitFor(
          () => nodes.every((n) => n.counters.reconnects >= 1),
          steady.leaseMs * 4,
          'every LISTEN connection to come back',
        );
        await sleep(steady.leaseMs + graceMs * 2);
        for (const log of logs) {
          assert.equal(log.length, expected, 'nothing twice');
          for (const u of visitors) {
            assert.deepEqual(
              log.filter((e) => e.userId === u).map((e) => e.type),
              ['userOnline', 'userOffline'],
              `${u} once each, in order`,
            );
          }
        }
        assert.deepEqual((await nodes[0]!.onlineUsers()).sort(), ['resident0', 'resident1', 'resident2']);
        assert.ok(
          nodes.every((n) => n.counters.reasserts === 0),
          'no lease was lost',
        );
        assert.ok([...codes(c.errors)].every((code) => code === 'SB_ERR_BACKPLANE_UNAVAILABLE'));
      } finally {
        await c.close(admin);
      }
    });

    test('a killed node is swept once by exactly one survivor; its users go offline once', async () => {
      const c = cluster();
      try {
        const [a, b, x] = [await c.node('a'), await c.node('b'), await c.node('c')];
        const logs = [record(b), record(x)];
        for (let i = 0; i < 10; i++) await a.addConnection(conn(`a-${i}`, `user${i}`));
        await b.addConnection(conn('b-0', 'user0')); // connected elsewhere too
        await a.addToGroup('a-1', 'room');
        await waitFor(() => logs.every((l) => l.length === 10), leaseMs, 'all online');
        a.destroyWithoutCleanup(); // no close: the lease is left to lapse
        await sleep(leaseMs / 2);
        assert.equal((await b.userConnections('user5')).length, 1, 'kept while the lease holds');
        assert.equal(await x.groupConnectionCount('room'), 1);
        await waitFor(async () => (await x.userConnections('user5')).length === 0, leaseMs * 2, 'the sweep');
        assert.equal(await x.groupConnectionCount('room'), 0);
        await waitFor(() => logs.every((l) => l.length === 19), graceMs + leaseMs, 'nine offlines');
        await sleep(leaseMs * 2 + graceMs * 2); // a second sweep would show now
        for (const log of logs) {
          assert.equal(log.length, 19);
          const offlines = log.slice(10);
          assert.deepEqual(offlines.map((e) => e.userId).sort(), users(1, 10).sort());
          assert.ok(offlines.every((e) => e.type === 'userOffline'));
          assert.equal(new Set(offlines.map((e) => e.originNodeId)).size, 1, 'one survivor decided all');
          assert.ok(['b', 'c'].includes(offlines[0]!.originNodeId));
        }
        assert.deepEqual(
          logs[0]!.slice(10).map((e) => e.originNodeId),
          logs[1]!.slice(10).map((e) => e.originNodeId),
          'the same decision on every node',
        );
        assert.equal(await b.isOnline('user0'), true, 'connected elsewhere');
        assert.deepEqual(
          (await b.userConnections('user0')).map((k) => k.connectionId),
          ['b-0'],
        );
        const { rows } = await admin.query(`SELECT node_id FROM ${c.schema}.presence_nodes ORDER BY node_id`);
        assert.deepEqual(
          rows.map((r) => r.node_id),
          ['b', 'c'],
          'the dead node left the cluster',
        );
        assert.deepEqual(c.errors, []);
      } finally {
        await c.close(admin);
      }
    });

    test('after the tables are emptied, every node re-asserts its lease, connections and groups silently', async () => {
      const c = cluster(steady);
      try {
        const [a, b] = [await c.node('a'), await c.node('b')];
        const logs = [record(a), record(b)];
        await a.addConnection(conn('a-ada', 'ada'));
        await b.addConnection(conn('b-bob', 'bob'));
        await b.addConnection(conn('c-ada', 'ada'));
        await a.addToGroup('a-ada', 'room');
        await b.addToGroup('b-bob', 'room'); // from its own node
        await a.addToGroup('c-ada', 'lobby'); // a node-b connection, from node a
        await waitFor(() => logs.every((l) => l.length === 2), steady.leaseMs, 'both online');
        await admin.query(
          `TRUNCATE ${['meta', 'nodes', 'users', 'connections', 'groups', 'events']
            .map((t) => `${c.schema}.presence_${t}`)
            .join(', ')} RESTART IDENTITY`,
        );
        for (const store of [a, b]) {
          await waitFor(
            async () => (await store.userConnections('ada')).length === 2,
            steady.leaseMs * 2,
            `node ${store.nodeId} to see the connections again`,
          );
          assert.deepEqual((await store.userConnections('ada')).map((k) => k.connectionId).sort(), [
            'a-ada',
            'c-ada',
          ]);
          assert.deepEqual((await store.onlineUsers()).sort(), ['ada', 'bob']);
          assert.equal(await store.groupConnectionCount('room'), 2);
          assert.deepEqual((await store.groupUsers('room')).sort(), ['ada', 'bob']);
          assert.deepEqual(
            (await store.groupConnections('lobby')).map((k) => k.connectionId),
            ['c-ada'],
          );
        }
        const leases = await admin.query(`SELECT node_id FROM ${c.schema}.presence_nodes ORDER BY node_id`);
        assert.deepEqual(
          leases.rows.map((r) => r.node_id),
          ['a', 'b'],
          'leases re-asserted',
        );
        await sleep(steady.leaseMs + graceMs * 2); // nobody swept, no duplicate online
        for (const log of logs) assert.deepEqual(kinds(log).sort(), ['online:ada', 'online:bob']);
        assert.ok(a.counters.reasserts >= 1 && b.counters.reasserts >= 1);
        // The cluster still works after the truncate: a transition is announced once everywhere.
        await b.removeConnection('b-bob');
        await waitFor(() => logs.every((l) => l.length === 3), graceMs + steady.leaseMs, 'bob offline');
        await sleep(graceMs * 2);
        for (const log of logs) assert.deepEqual(kinds(log.slice(2)), ['offline:bob']);
        assert.deepEqual(c.errors, []);
      } finally {
        await c.close(admin);
      }
    });

    test('a user in the grace period when the tables are emptied still goes offline once', async () => {
      const c = cluster();
      try {
        const [a, b] = [await c.node('a'), await c.node('b')];
        const logs = [record(a), record(b)];
        await a.addConnection(conn('a-ada', 'ada'));
        await a.removeConnection('a-ada'); // grace runs
        await admin.query(
          `TRUNCATE ${['meta', 'nodes', 'users', 'connections', 'groups', 'events']
            .map((t) => `${c.schema}.presence_${t}`)
            .join(', ')}`,
        );
        await waitFor(
          () => logs.every((l) => l.length === 2),
          leaseMs * 2 + graceMs + leaseMs + 4_000, // bounded generously: a loaded machine delays heartbeats
          'ada offline after the truncate',
        );
        await sleep(leaseMs + graceMs);
        for (const log of logs) assert.deepEqual(kinds(log), ['online:ada', 'offline:ada']);
        assert.equal(await b.isOnline('ada'), false);
        assert.deepEqual(c.errors, []);
      } finally {
        await c.close(admin);
      }
    });
  });
}
