/**
 * Issue #5 backplane faults on whole processes: three conformance server processes on PostgreSQL
 * behind haproxy, every node sending numbered messages while one node's backends are terminated
 * (`pg_terminate_backend`), and while one node's PostgreSQL connections are cut and held down.
 */
import {
  backplaneFaultSuite,
  CLUSTER_POSTGRES_URL,
  holdOneNodeFault,
  PSQL_PATH,
  pgTerminateFault,
  postgresClusterSetup,
  requireBinary,
} from '@switchboard/testkit';

backplaneFaultSuite({
  ...postgresClusterSetup,
  require: async (t) =>
    (await requireBinary(t, 'psql', PSQL_PATH)) && (await postgresClusterSetup.require(t)),
  faults: [
    { name: "node1's backends terminated again and again for 1.5 s", start: async () => pgTerminateFault(0) },
    {
      name: "node1's PostgreSQL connections cut and refused for 1.5 s while the others publish",
      start: () => holdOneNodeFault({ kind: 'postgres', url: CLUSTER_POSTGRES_URL }, 0),
    },
  ],
});
