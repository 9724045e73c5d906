/**
 * Issue #5 backplane faults on whole processes: three conformance server processes on Redis
 * behind haproxy, every node sending numbered messages while a private redis-server restarts, and
 * while one node's Redis connections are cut and held down.
 */
import {
  backplaneFaultSuite,
  CLUSTER_REDIS_URL,
  holdOneNodeFault,
  REDIS_SERVER_PATH,
  redisClusterSetup,
  redisRestartFault,
  requireBinary,
} from '@switchboard/testkit';

backplaneFaultSuite({
  ...redisClusterSetup,
  require: async (t) =>
    (await requireBinary(t, 'redis-server', REDIS_SERVER_PATH)) && (await redisClusterSetup.require(t)),
  faults: [
    { name: 'redis-server restarted (SIGTERM, 1.5 s down, started again)', start: redisRestartFault },
    {
      name: "node1's Redis connections cut and refused for 1.5 s while the others publish",
      start: () => holdOneNodeFault({ kind: 'redis', url: CLUSTER_REDIS_URL }, 0),
    },
  ],
});
