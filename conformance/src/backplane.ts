/**
 * How a conformance server joins a cluster: one entry per backend, each turning the CLI's options
 * into what `HubServer` takes. A backend ported onto the scale-out core returns `{ backplane }`
 * (its `…Backplane()` object); to add one, add an entry to {@link backplanes} and its flag to
 * options.ts.
 * @module
 */
import type { HubServerOptions, Logger } from '@switchboard/server';
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

/** The options every backend reads. */
interface Common {
  readonly prefix: string;
  readonly node: { nodeId?: string };
  readonly presenceTiming: { leaseMs?: number; graceMs?: number };
  readonly logger: Logger;
}

type BackendEntry = (url: string, common: Common) => Promise<BackplaneWiring>;

/** Each backend, by the option that selects it. Loaded only when used. */
const backplanes: Partial<Record<'redis' | 'postgres' | 'nats', BackendEntry>> = {
  redis: async (url, c) => {
    const { redisBackplane } = await import('@switchboard/backplane-redis');
    return {
      server: {
        backplane: redisBackplane({
          url,
          prefix: c.prefix,
          ...c.node,
          logger: c.logger,
          ...(c.presenceTiming.graceMs !== undefined ? { presenceGraceMs: c.presenceTiming.graceMs } : {}),
          ...(c.presenceTiming.leaseMs !== undefined ? { presenceLeaseMs: c.presenceTiming.leaseMs } : {}),
        }),
      },
    };
  },
  nats: async (url, c) => {
    const { natsBackplane } = await import('@switchboard/backplane-nats');
    return {
      server: {
        backplane: natsBackplane({
          url,
          prefix: c.prefix,
          ...c.node,
          logger: c.logger,
          ...(c.presenceTiming.graceMs !== undefined ? { presenceGraceMs: c.presenceTiming.graceMs } : {}),
          ...(c.presenceTiming.leaseMs !== undefined ? { presenceLeaseMs: c.presenceTiming.leaseMs } : {}),
        }),
      },
    };
  },
  postgres: async (url, c) => {
    const { postgresBackplane } = await import('@switchboard/backplane-postgres');
    return {
      server: {
        // One schema (from the prefix) holds the bus's and presence's tables.
        backplane: postgresBackplane({
          url,
          prefix: c.prefix,
          ...c.node,
          logger: c.logger,
          ...(c.presenceTiming.graceMs !== undefined ? { presenceGraceMs: c.presenceTiming.graceMs } : {}),
          ...(c.presenceTiming.leaseMs !== undefined ? { presenceLeaseMs: c.presenceTiming.leaseMs } : {}),
        }),
      },
    };
  },
};

/** The backplane the options ask for, or undefined for a single node. */
export async function conformanceBackplane(
  options: ConformanceOptions,
  logger: Logger,
): Promise<BackplaneWiring | undefined> {
  const common: Common = {
    prefix: options.prefix ?? 'switchboard:',
    node: options.nodeId !== undefined ? { nodeId: options.nodeId } : {},
    presenceTiming: {
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.presenceGraceMs !== undefined ? { graceMs: options.presenceGraceMs } : {}),
    },
    logger,
  };
  for (const [name, entry] of Object.entries(backplanes)) {
    const url = options[name as keyof typeof backplanes];
    if (url && entry) return entry(url, common);
  }
  return undefined;
}
