/**
 * How a conformance server joins a cluster: one entry per backend, each turning the CLI's options
 * into what `HubServer` takes. A backend ported onto the scale-out core returns `{ backplane }`
 * (its `…Backplane()` object); to add one, add an entry to {@link backplanes} and its flag to
 * options.ts.
 * @module
 */
import type { ClusterWorkerContext, HubServerOptions, Logger } from '@switchboard/server';
import type { ConformanceOptions } from './options.js';

/** What a backend hands the hub server, and what the server must do around it. */
export interface BackplaneWiring {
  /** The options for `new HubServer` (a `backplane`, or the older presence and factory pair). */
  readonly server: Pick<HubServerOptions, 'backplane' | 'presence' | 'lifetimeManagerFactory'>;
  /** Resolves once the node may let clients in (besides `hubs.ready()`). */
  ready?(): Promise<void>;
  /** Closes what `hubs.close()` does not (a presence store passed on its own). */
  close?(): Promise<void>;
}

/** The options every backend's `…Backplane()` takes, from the CLI's. */
interface BackendOptions {
  readonly url: string;
  readonly prefix: string;
  readonly nodeId?: string;
  readonly logger: Logger;
  readonly presenceGraceMs?: number;
  readonly presenceLeaseMs?: number;
}

type BackendEntry = (options: BackendOptions) => Promise<BackplaneWiring>;

/**
 * Each backend, by the option that selects it. Loaded only when used. On PostgreSQL one schema
 * (from the prefix) holds the bus's and presence's tables.
 */
const backplanes: Record<'redis' | 'postgres' | 'nats', BackendEntry> = {
  redis: async (o) => ({
    server: { backplane: (await import('@switchboard/backplane-redis')).redisBackplane(o) },
  }),
  nats: async (o) => ({
    server: { backplane: (await import('@switchboard/backplane-nats')).natsBackplane(o) },
  }),
  postgres: async (o) => ({
    server: { backplane: (await import('@switchboard/backplane-postgres')).postgresBackplane(o) },
  }),
};

/**
 * The backplane the options ask for, or undefined for a single node. In a worker of
 * `--workers N`, the node id is the worker's (`<node-id>-<k>`), and without an outside backplane
 * the workers are joined by the in-box bus.
 */
export async function conformanceBackplane(
  options: ConformanceOptions,
  logger: Logger,
  worker?: ClusterWorkerContext,
): Promise<BackplaneWiring | undefined> {
  const nodeId = worker?.nodeId ?? options.nodeId;
  for (const name of Object.keys(backplanes) as (keyof typeof backplanes)[]) {
    const url = options[name];
    if (!url) continue;
    return backplanes[name]({
      url,
      prefix: options.prefix ?? 'switchboard:',
      logger,
      ...(nodeId !== undefined ? { nodeId } : {}),
      ...(options.presenceGraceMs !== undefined ? { presenceGraceMs: options.presenceGraceMs } : {}),
      ...(options.leaseMs !== undefined ? { presenceLeaseMs: options.leaseMs } : {}),
    });
  }
  if (worker) {
    return {
      server: {
        backplane: worker.inboxBackplane({
          logger,
          ...(options.presenceGraceMs !== undefined ? { presenceGraceMs: options.presenceGraceMs } : {}),
          ...(options.leaseMs !== undefined ? { presenceLeaseMs: options.leaseMs } : {}),
        }),
      },
    };
  }
  return undefined;
}
