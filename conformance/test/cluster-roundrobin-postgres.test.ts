/**
 * No sticky sessions (docs/scale-out.md#no-sticky-sessions): three conformance server processes
 * on the machine's PostgreSQL behind haproxy in `balance roundrobin` with no cookie
 * (deploy/haproxy/switchboard-roundrobin.cfg): long-polling and Server-Sent Events clients whose
 * requests land on every node, WebSockets upgraded on another node than the negotiate, forged
 * and stale tokens.
 */
import { postgresClusterSetup, roundRobinSuite } from '@switchboard/testkit';

roundRobinSuite(postgresClusterSetup);
