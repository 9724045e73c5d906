/**
 * The PostgreSQL backplane's {@link HubLifetimeManager}: the scale-out core's
 * `ScaleoutHubLifetimeManager` over a {@link PostgresBus}, one per hub per node.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { HubLifetimeManager } from '@switchboard/server';
import { ScaleoutHubLifetimeManager } from '@switchboard/server/scaleout';
import { PostgresBus } from './postgres-bus.js';
import type {
  PostgresBackplaneCounters,
  PostgresHubLifetimeManagerOptions,
} from './postgres-hub-lifetime-manager-options.js';
import { busSettings } from './postgres-settings.js';

/**
 * A {@link HubLifetimeManager} across nodes on PostgreSQL (docs/scale-out.md). A thin wrapper
 * kept for applications that wire one manager per hub (`lifetimeManagerFactory`); the core does
 * the delivery rules, {@link PostgresBus} the transport. Applications usually pass
 * `postgresBackplane(…)` to the `HubServer` instead, which also gives presence, readiness and
 * health.
 *
 * Every send is a row of `<schema>.bus_messages`, whose id is the log order (ids are taken under
 * one advisory lock held until commit, so rows commit in id order); `NOTIFY` wakes the readers;
 * each node reads `id > last` for the channels it needs, and after its LISTEN connection comes
 * back reads on from its last id (nothing lost, nothing twice). Rows leave the log after
 * `maxAgeMs` or beyond `maxRows`; a node that had not read them counts and reports the loss
 * (`SB_ERR_BACKPLANE_REPLAY_GAP`).
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   lifetimeManagerFactory: (path) =>
 *     new PostgresHubLifetimeManager({ pg: process.env.DATABASE_URL, hubName: path, prefix: 'chat:' }),
 * });
 * ```
 */
export class PostgresHubLifetimeManager extends ScaleoutHubLifetimeManager {
  /** The schema of the cluster's tables. */
  readonly schema: string;
  private readonly pgBus: PostgresBus;

  constructor(options: PostgresHubLifetimeManagerOptions = {}) {
    const nodeId = options.nodeId ?? randomUUID();
    const settings = busSettings(options, nodeId);
    let bus: PostgresBus | undefined;
    super({
      ...options,
      nodeId,
      bus: (context) => {
        bus = new PostgresBus(settings, context);
        return bus;
      },
    });
    this.schema = settings.schema;
    this.pgBus = bus!;
  }

  /** This node's counters for this hub: the core's (the bus's own catch-up counted in `replayed`), the bus's, the queue. */
  override get counters(): PostgresBackplaneCounters {
    return { ...this.pgBus.counters, ...super.counters, queueLength: this.pgBus.status().queued };
  }

  /** Reads and delivers every row committed so far on this node's channels. */
  catchUp(): Promise<void> {
    return this.pgBus.catchUp();
  }
}
