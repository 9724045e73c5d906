/**
 * Issue #5 behind a load balancer: three conformance server processes on the machine's Redis
 * behind haproxy (deploy/haproxy/switchboard.cfg), the official client spread across them.
 */
import { loadBalancerSuite, redisClusterSetup } from '@switchboard/testkit';

loadBalancerSuite(redisClusterSetup);
