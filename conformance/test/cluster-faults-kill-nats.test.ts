/**
 * A node killed with SIGKILL while three conformance server processes on NATS JetStream behind
 * haproxy send numbered messages: its connections leave presence within the lease, its clients
 * reconnect through haproxy to a live node and go on.
 */
import { natsClusterSetup, nodeKillSuite } from '@switchboard/testkit';

nodeKillSuite(natsClusterSetup);
