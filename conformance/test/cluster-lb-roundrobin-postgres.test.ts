/**
 * The load-balancer suite without sticky sessions (docs/scale-out.md#no-sticky-sessions): three
 * conformance server processes on the machine's PostgreSQL behind haproxy in `balance roundrobin` with
 * no cookie (deploy/haproxy/switchboard-roundrobin.cfg); every request goes to the next node,
 * which forwards it to the connection's owner.
 */
import { loadBalancerSuite, postgresClusterSetup } from '@switchboard/testkit';

loadBalancerSuite(postgresClusterSetup, { balancer: 'roundrobin' });
