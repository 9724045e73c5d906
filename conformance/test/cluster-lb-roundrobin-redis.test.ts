/**
 * The load-balancer suite without sticky sessions (docs/scale-out.md#no-sticky-sessions): three
 * conformance server processes on the machine's Redis behind haproxy in `balance roundrobin` with
 * no cookie (deploy/haproxy/switchboard-roundrobin.cfg); every request goes to the next node,
 * which forwards it to the connection's owner.
 */
import { loadBalancerSuite, redisClusterSetup } from '@switchboard/testkit';

loadBalancerSuite(redisClusterSetup, { balancer: 'roundrobin' });
