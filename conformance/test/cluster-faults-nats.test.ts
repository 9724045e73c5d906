/**
 * Backplane faults on whole processes, on NATS JetStream: three conformance server processes
 * behind haproxy, every node sending numbered messages while a private nats-server restarts (its
 * JetStream store kept: nothing may be lost), and while one node's NATS connection is cut and held
 * down.
 */
import {
  backplaneFaultSuite,
  CLUSTER_NATS_URL,
  holdOneNodeFault,
  NATS_SERVER_PATH,
  natsClusterSetup,
  natsRestartFault,
  requireBinary,
} from '@switchboard/testkit';

backplaneFaultSuite({
  ...natsClusterSetup,
  require: async (t) =>
    (await requireBinary(t, 'nats-server', NATS_SERVER_PATH)) && (await natsClusterSetup.require(t)),
  faults: [
    { name: 'nats-server restarted (SIGTERM, 1.5 s down, started again)', start: natsRestartFault },
    {
      name: "node1's NATS connection cut and refused for 1.5 s while the others publish",
      start: () => holdOneNodeFault({ kind: 'nats', url: CLUSTER_NATS_URL }, 0),
    },
  ],
});
