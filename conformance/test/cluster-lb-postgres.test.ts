/**
 * Issue #5 behind a load balancer: three conformance server processes on the machine's
 * PostgreSQL behind haproxy (deploy/haproxy/switchboard.cfg), the official client spread across
 * them.
 */
import { loadBalancerSuite, postgresClusterSetup } from '@switchboard/testkit';

loadBalancerSuite(postgresClusterSetup);
