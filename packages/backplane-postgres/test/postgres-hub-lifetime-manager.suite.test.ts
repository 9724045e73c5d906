// The shared HubLifetimeManager conformance suite against the PostgreSQL backplane with three
// nodes: every node its own PostgresHubLifetimeManager with its own connections, one schema per test.
import { test } from 'node:test';
import { hubLifetimeManagerSuite } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import {
  closeNodes,
  PG_URL,
  postgresReachable,
  requirePostgres,
  settle,
  startNodes,
  uniquePrefix,
} from './helpers.ts';

if (await postgresReachable()) {
  hubLifetimeManagerSuite(
    `PostgresHubLifetimeManager, 3 nodes (${PG_URL})`,
    async (n) => {
      const prefix = uniquePrefix();
      const nodes = await startNodes(n, prefix);
      return { nodes, settle: () => settle(nodes), close: () => closeNodes(nodes, prefix) };
    },
    { nodes: 3 },
  );
} else {
  // Skips loudly (fails under CI=true) instead of registering a suite that cannot run.
  test('PostgresHubLifetimeManager conformance suite', async (t) => {
    await requirePostgres(t);
  });
}
