// PostgresPresenceStore against the shared presence conformance suite, on real PostgreSQL and real
// time, one schema per test (dropped after); and its option checks.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createConnection, createServer } from 'node:net';
import { test } from 'node:test';
import { SwitchboardError } from '@switchboard/server';
import { requireService } from '@switchboard/testkit';
import pg from 'pg';
import { presenceStoreSuite } from '../../testkit/src/suites/presence-store-suite.ts';
import {
  PostgresPresenceStore,
  type PostgresPresenceStoreOptions,
} from '../src/presence/postgres-presence-store.ts';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresService = { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 } as const;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Whether PostgreSQL is there decides what is registered: without it (and without CI=true) one
// test says loudly that everything was skipped; under CI=true that test fails.
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
test('PostgreSQL for the presence store tests', async (t) => {
  await requireService(t, postgresService);
});

test('bad options are refused with SB_ERR_HUB_CONFIGURATION before connecting', () => {
  const refused = (options: PostgresPresenceStoreOptions) =>
    assert.throws(
      () => new PostgresPresenceStore({ pg: URL, ...options }),
      (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_ERR_HUB_CONFIGURATION',
    );
  refused({ graceMs: -1 });
  refused({ leaseMs: Number.NaN });
  refused({ leaseMs: 300, heartbeatIntervalMs: 300 });
  refused({ eventLogLength: 0 });
  refused({ poolSize: 0 });
  refused({ schema: 'Bad-Schema' });
  refused({ schema: 'x'.repeat(64) });
});

test('an unreachable database is reported and retried, never thrown out of the heartbeat; calls reject', async () => {
  // A port nothing listens on: taken from the OS, then given back.
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const errors: unknown[] = [];
  const store = new PostgresPresenceStore({
    pg: `postgres://postgres@127.0.0.1:${port}/test`,
    schema: 'sbp_unreachable',
    nodeId: 'lonely',
    leaseMs: 300,
    onError: (error) => errors.push(error),
  });
  try {
    await store.ready;
    assert.ok(errors.length >= 1, 'the failed join was reported');
    const first = errors[0] as { code?: string; message?: string };
    assert.equal(first.code, 'SB_ERR_BACKPLANE_UNAVAILABLE');
    assert.match(first.message ?? '', /PostgreSQL: presence join failed/);
    await assert.rejects(
      store.addConnection({
        connectionId: 'c1',
        userId: 'ada',
        transport: 'WebSockets',
        connectedAt: 1_700_000_000_000,
        device: { type: 'desktop', browser: 'Firefox' },
      }),
    );
    const before = errors.length;
    const until = Date.now() + 5_000;
    while (errors.length === before && Date.now() < until) await sleep(20);
    assert.ok(errors.length > before, 'the heartbeat tried to join again and reported it');
    assert.ok(store.counters.errors >= errors.length);
  } finally {
    await store.close();
  }
});

if (postgresUp) {
  let n = 0;
  presenceStoreSuite('PostgresPresenceStore (shared suite, real PostgreSQL, real time)', async (timing) => {
    const schema = `sbp_suite_${process.pid}_${++n}_${randomUUID().slice(0, 8)}`;
    const stores: PostgresPresenceStore[] = [];
    const errors: unknown[] = [];
    return {
      node: async (nodeId) => {
        const store = new PostgresPresenceStore({
          pg: URL,
          schema,
          nodeId,
          applicationName: `${schema}/${nodeId}`,
          poolSize: 2,
          onError: (error, event) => {
            if (!event) errors.push(error); // the suite's throwing listener is expected
          },
          ...timing,
        });
        stores.push(store);
        await store.ready;
        return store;
      },
      crash: async (store) => (store as PostgresPresenceStore).destroyWithoutCleanup(),
      advance: (ms) => sleep(ms),
      close: async () => {
        await Promise.all(stores.map((s) => s.close()));
        const admin = new pg.Client({ connectionString: URL });
        await admin.connect();
        try {
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await admin.end();
        }
        assert.deepEqual(errors, [], 'no database error reported');
      },
    };
  });
}
