/**
 * No sticky sessions (docs/scale-out.md#no-sticky-sessions): three conformance server processes
 * on the machine's Redis behind haproxy in `balance roundrobin` with no cookie
 * (deploy/haproxy/switchboard-roundrobin.cfg): long-polling and Server-Sent Events clients whose
 * requests land on every node, WebSockets upgraded on another node than the negotiate, forged
 * and stale tokens.
 */
import { redisClusterSetup, roundRobinSuite } from '@switchboard/testkit';

roundRobinSuite(redisClusterSetup);
