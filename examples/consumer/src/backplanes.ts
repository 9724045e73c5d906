/**
 * Picks a backplane from the environment, one of the three packages: `BACKPLANE=redis|postgres|nats|loopback`
 * with `BACKPLANE_URL`; none (one node) otherwise. The packages' types meet here under the
 * consumer's strict settings.
 *
 *   BACKPLANE=postgres BACKPLANE_URL=postgres://localhost/app node dist/backplanes.js
 */
import { natsBackplane } from '@switchboard/backplane-nats';
import { postgresBackplane } from '@switchboard/backplane-postgres';
import { redisBackplane } from '@switchboard/backplane-redis';
import { HubServer, type HubServerOptions } from '@switchboard/server';
import type { Backplane } from '@switchboard/server/scaleout';
import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '@switchboard/server/testing';

/** The backplane `BACKPLANE` names, or undefined for a single node. */
export function backplaneFromEnv(env: NodeJS.ProcessEnv): Backplane | undefined {
  const url = env.BACKPLANE_URL;
  const nodeId = env.NODE_ID ?? 'node-1';
  switch (env.BACKPLANE) {
    case 'redis':
      return redisBackplane({ ...(url !== undefined ? { url } : {}), prefix: 'app:', nodeId });
    case 'postgres':
      return postgresBackplane({ ...(url !== undefined ? { url } : {}), prefix: 'app:', nodeId });
    case 'nats':
      return natsBackplane({ ...(url !== undefined ? { url } : {}), prefix: 'app:', nodeId });
    case 'loopback':
      return loopbackBackplane({
        network: new LoopbackNetwork(),
        presenceNetwork: new LoopbackPresenceNetwork(),
        nodeId,
      });
    default:
      return undefined;
  }
}

const backplane = backplaneFromEnv(process.env);
const options: HubServerOptions = backplane !== undefined ? { backplane } : {};
const hubs = new HubServer(options);
await hubs.ready();
const backend = hubs.health()?.backend ?? 'none';
await hubs.close();
console.log(JSON.stringify({ backplane: backend }));
