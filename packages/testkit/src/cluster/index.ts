/**
 * Whole server processes in tests: conformance server nodes on a backplane behind haproxy, a
 * private redis-server or nats-server, a TCP fault proxy, and numbered messages to check delivery under faults.
 * @module
 */
export { type Cluster, type ClusterClient, type ClusterOptions, nodeOf, startCluster } from './cluster.js';
export { FaultProxy, type FaultProxyMode } from './fault-proxy.js';
export { backplaneFaultSuite, nodeKillSuite } from './fault-suite.js';
export { type BackplaneFault, holdOneNodeFault, redisRestartFault } from './faults.js';
export {
  HAPROXY_CONFIG,
  HAPROXY_ROUNDROBIN_CONFIG,
  HAPROXY_SERVERS,
  Haproxy,
  haproxyEnvironment,
} from './haproxy.js';
export {
  agreeOnEveryNode,
  type ClusterBackplaneSetup,
  expectDeliveries,
  loadBalancerSuite,
  type Member,
} from './lb-suite.js';
export {
  CLUSTER_NATS_URL,
  deleteNatsPrefix,
  natsClusterSetup,
  natsRestartFault,
} from './nats-setup.js';
export {
  type BackplaneSpec,
  backplaneArgs,
  NodeProcess,
  type NodeProcessOptions,
  REPO_ROOT,
} from './node-process.js';
export {
  NumberedReceiver,
  NumberedSender,
  numbered,
  numberedProblems,
  type SentRecord,
} from './numbered.js';
export { NATS_SERVER_PATH, OwnNats } from './own-nats.js';
export { OwnRedis } from './own-redis.js';
export {
  CLUSTER_POSTGRES_URL,
  clusterSchema,
  PSQL_PATH,
  pgTerminateFault,
  postgresClusterSetup,
  psql,
} from './postgres-setup.js';
export {
  accepts,
  ChildHandle,
  findBinary,
  freePort,
  HAPROXY_PATH,
  REDIS_SERVER_PATH,
  requireBinary,
  sleep,
} from './processes.js';
export { CLUSTER_REDIS_URL, deleteRedisPrefix, redisClusterSetup } from './redis-setup.js';
export { roundRobinSuite } from './roundrobin-suite.js';
export { type WorkerClient, WorkersServer, type WorkersServerOptions } from './workers.js';
