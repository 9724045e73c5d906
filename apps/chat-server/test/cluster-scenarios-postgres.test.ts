// The end-to-end scenarios (cluster-scenarios.ts) on three chat processes over one PostgreSQL
// schema with the PostgreSQL backplane (BACKPLANE=postgres, BACKPLANE_URL): no Redis involved.
// Skips loudly without PostgreSQL (fails under CI=true).
import { clusterScenarios } from './cluster-scenarios.ts';
import { DATABASE_URL } from './process-cluster.ts';

clusterScenarios('postgres', () => ({ BACKPLANE: 'postgres', BACKPLANE_URL: DATABASE_URL }), false);
