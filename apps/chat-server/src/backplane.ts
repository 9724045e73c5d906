/**
 * How a chat node joins its cluster: one entry per backend (`BACKPLANE`), each turning the
 * configuration into what `HubServer` takes. A backend on the scale-out core returns
 * `{ backplane }` (its `…Backplane()` object, which `hubs.ready()`, `hubs.health()` and
 * `hubs.close()` drive); to add one, add an entry to {@link backplanes} and its name to
 * `BackplaneKind` (config.ts).
 * @module
 */
import type { ClusterWorkerContext, HubServerOptions, Logger, PresenceStore } from '@switchboard/server';
import type { BackplaneKind, ChatConfig } from './config.js';

/** What a backend hands the hub server, and what the app must do around it. */
export interface ChatBackplane {
  /** The options for `new HubServer` (a `backplane`, or the older presence and factory pair). */
  readonly server: Pick<HubServerOptions, 'backplane' | 'presence' | 'lifetimeManagerFactory'>;
  /** Resolves once the node may let clients in (besides `hubs.ready()`). */
  ready?(): Promise<void>;
  /** A presence store passed on its own, which the app closes after the hubs. */
  readonly presence?: PresenceStore;
}

type BackendEntry = (config: ChatConfig, logger: Logger) => Promise<ChatBackplane>;

/** Each backend by its `BACKPLANE` name. Loaded only when used. */
const backplanes: Record<Exclude<BackplaneKind, 'none'>, BackendEntry> = {
  redis: async (config, logger) => {
    const { redisBackplane } = await import('@switchboard/backplane-redis');
    // Keys: <prefix>:hubs:<hub>:… and <prefix>:presence:…
    return {
      server: {
        backplane: redisBackplane({
          url: config.redisUrl!,
          prefix: `${config.backplanePrefix}:`,
          nodeId: config.nodeId,
          presenceGraceMs: config.presenceGraceMs,
          logger,
        }),
      },
    };
  },
  nats: async (config, logger) => {
    const { natsBackplane } = await import('@switchboard/backplane-nats');
    // Streams and the presence bucket are named after <prefix>: (and the hub's path).
    return {
      server: {
        backplane: natsBackplane({
          url: config.backplaneUrl!,
          prefix: `${config.backplanePrefix}:`,
          nodeId: config.nodeId,
          presenceGraceMs: config.presenceGraceMs,
          logger,
        }),
      },
    };
  },
  postgres: async (config, logger) => {
    const { postgresBackplane } = await import('@switchboard/backplane-postgres');
    return {
      server: {
        // One schema (schemaFromPrefix(<prefix>:)) holds the bus's and presence's tables.
        backplane: postgresBackplane({
          url: config.backplaneUrl!,
          prefix: `${config.backplanePrefix}:`,
          nodeId: config.nodeId,
          presenceGraceMs: config.presenceGraceMs,
          logger,
        }),
      },
    };
  },
};

/**
 * The node's backplane as configured, or undefined for a single node. A worker of `WORKERS` with
 * no `BACKPLANE` joins the other workers of the machine by the in-box bus.
 */
export function chatBackplane(
  config: ChatConfig,
  logger: Logger,
  worker?: ClusterWorkerContext,
): Promise<ChatBackplane | undefined> {
  if (config.backplane !== 'none') return backplanes[config.backplane](config, logger);
  if (!worker) return Promise.resolve(undefined);
  return Promise.resolve({
    server: { backplane: worker.inboxBackplane({ presenceGraceMs: config.presenceGraceMs, logger }) },
  });
}
