// The end-to-end scenarios (cluster-scenarios.ts) on one chat process with WORKERS=2 on SQLite: the
// workers share the port and the SQLite file and are joined by the in-box bus (no outside
// service). The scenarios' three nodes are workers 1, 2 and 1: every pair of nodes a scenario
// calls different is on different workers, but for node 0 against node 2.
import { clusterScenarios } from './cluster-scenarios.ts';
import { startWorkerCluster } from './worker-cluster.ts';

clusterScenarios('workers=2 on SQLite', () => ({}), false, {
  start: () =>
    startWorkerCluster({
      workers: 2,
      nodes: 3,
      env: { PRESENCE_GRACE_MS: '400', MESSAGE_RATE_LIMIT: '1000' },
    }),
  lagProbes: false,
});
