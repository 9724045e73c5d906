/**
 * Issue #5: a node killed with SIGKILL while three conformance server processes on PostgreSQL
 * behind haproxy send numbered messages: its connections leave presence within the lease, its
 * clients reconnect through haproxy to a live node and go on.
 */
import { nodeKillSuite, postgresClusterSetup } from '@switchboard/testkit';

nodeKillSuite(postgresClusterSetup);
