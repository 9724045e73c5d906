// PostgresPresenceStore under contention, on real PostgreSQL: three nodes add and remove connections
// of the same users at once, with no grace period, so every removal races every add. Each
// transition must be decided once: every node hears the same events, in the same order, and each
// user's events alternate. One schema, dropped after.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import type { PresenceEvent } from '@switchboard/server';
import { requireService } from '@switchboard/testkit';
import pg from 'pg';
import { PostgresPresenceStore } from '../src/presence/postgres-presence-store.ts';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresService = { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 } as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
test('PostgreSQL for the presence concurrency test', async (t) => {
  await requireService(t, postgresService);
});

if (postgresUp) {
  test('racing adds and removes of the same users on three nodes: one decision per transition, alternating, the same everywhere', async () => {
    const schema = `sbp_race_${process.pid}_${randomUUID().slice(0, 8)}`;
    const errors: unknown[] = [];
    const nodes = ['a', 'b', 'c'].map(
      (nodeId) =>
        new PostgresPresenceStore({
          pg: URL,
          schema,
          nodeId,
          applicationName: `${schema}/${nodeId}`,
          graceMs: 0,
          leaseMs: 3_000,
          poolSize: 3,
          onError: (error) => errors.push(error),
        }),
    );
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    try {
      await Promise.all(nodes.map((n) => n.ready));
      const logs = nodes.map((n) => {
        const log: PresenceEvent[] = [];
        n.subscribe((e) => log.push(e));
        return log;
      });
      const userIds = ['ada', 'bob', 'cy'];
      const rounds = 20;
      // Every node, for every user, adds a connection and removes it again, round after round;
      // half of the removals are made by another node than the one that added.
      await Promise.all(
        nodes.flatMap((node, i) =>
          userIds.map(async (userId) => {
            for (let round = 0; round < rounds; round++) {
              const connectionId = `${node.nodeId}-${userId}-${round}`;
              await node.addConnection({
                connectionId,
                userId,
                transport: 'WebSockets',
                connectedAt: 1_700_000_000_000,
                device: { type: 'desktop', browser: 'Firefox' },
              });
              await node.addToGroup(connectionId, 'room');
              await nodes[(i + round) % nodes.length]!.removeConnection(connectionId);
            }
          }),
        ),
      );
      for (const node of nodes) {
        assert.deepEqual(await node.onlineUsers(), [], 'everyone left');
        assert.equal(await node.groupConnectionCount('room'), 0);
      }
      // Every node hears everything: the count settles once the last notifications are read.
      const { rows } = await admin.query<{ n: number }>(
        `SELECT seq::int AS n FROM ${schema}.presence_meta WHERE id = 1`,
      );
      const total = rows[0]!.n;
      const until = Date.now() + 10_000;
      while (logs.some((l) => l.length < total) && Date.now() < until) await sleep(20);
      const sequences = logs.map((log) =>
        log.map((e) => `${e.type}:${e.userId}:${e.originNodeId}:${e.at}`).join('\n'),
      );
      assert.equal(logs[0]!.length, total, 'node a heard every event once');
      assert.equal(sequences[1], sequences[0], 'node b heard the same events in the same order');
      assert.equal(sequences[2], sequences[0], 'node c heard the same events in the same order');
      for (const userId of userIds) {
        const kinds = logs[0]!.filter((e) => e.userId === userId).map((e) => e.type);
        assert.ok(kinds.length >= 2, `${userId} came and went`);
        kinds.forEach((kind, i) => {
          assert.equal(kind, i % 2 === 0 ? 'userOnline' : 'userOffline', `${userId}'s events alternate`);
        });
      }
      // Deadlocks between racing transactions may happen; they are retried, never surfaced.
      assert.ok(errors.every((e) => (e as { code?: string }).code === 'SB_ERR_BACKPLANE_UNAVAILABLE'));
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
}
