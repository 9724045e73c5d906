/**
 * Behind a load balancer on NATS JetStream: three conformance server processes on the machine's
 * nats-server behind haproxy (deploy/haproxy/switchboard.cfg), the official client spread across
 * them.
 */
import { loadBalancerSuite, natsClusterSetup } from '@switchboard/testkit';

loadBalancerSuite(natsClusterSetup);
