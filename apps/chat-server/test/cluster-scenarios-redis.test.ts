// The end-to-end scenarios (cluster-scenarios.ts) on three chat processes over one PostgreSQL
// schema with the Redis backplane (REDIS_URL). Skips loudly without PostgreSQL or Redis.
import { clusterScenarios } from './cluster-scenarios.ts';
import { REDIS_URL } from './process-cluster.ts';

clusterScenarios('redis', () => ({ REDIS_URL }), true);
