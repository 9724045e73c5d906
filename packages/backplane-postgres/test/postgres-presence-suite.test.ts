// PostgresPresenceStore against the shared presence conformance suite, on real PostgreSQL and real
// time, one schema per test (dropped after); and its option checks.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
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
