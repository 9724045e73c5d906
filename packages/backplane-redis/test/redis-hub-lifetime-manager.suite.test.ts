// The shared HubLifetimeManager conformance suite against the Redis backplane with three nodes:
// every node its own RedisHubLifetimeManager with its own connections, one prefix per test.
import { test } from 'node:test';
import { hubLifetimeManagerSuite } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import {
  closeNodes,
  REDIS_URL,
  redisReachable,
  requireRedis,
  settle,
  startNodes,
  uniquePrefix,
} from './helpers.ts';

if (await redisReachable()) {
  hubLifetimeManagerSuite(
    `RedisHubLifetimeManager, 3 nodes (${REDIS_URL})`,
    async (n) => {
      const prefix = uniquePrefix();
      const nodes = await startNodes(n, prefix);
      return { nodes, settle: () => settle(nodes), close: () => closeNodes(nodes, prefix) };
    },
    { nodes: 3 },
  );
} else {
  // Skips loudly (fails under CI=true) instead of registering a suite that cannot run.
  test('RedisHubLifetimeManager conformance suite', async (t) => {
    await requireRedis(t);
  });
}
