/**
 * {@link PostgresHubLifetimeManager}: the scale-out core's `ScaleoutHubLifetimeManager` over a
 * {@link PostgresBus}, one per hub per node.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ScaleoutHubLifetimeManager } from '@switchboard/server/scaleout';
import { PostgresBus } from './postgres-bus.js';
import {
  busSettings,
  type PostgresBackplaneCounters,
  type PostgresHubLifetimeManagerOptions,
} from './postgres-options.js';

/**
 * A `HubLifetimeManager` across nodes on PostgreSQL (docs/scale-out.md), kept for applications that
 * wire one manager per hub (`lifetimeManagerFactory`); `postgresBackplane(…)` also gives presence,
 * readiness and health. The core does the delivery rules, {@link PostgresBus} the transport.
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
    super({ ...options, nodeId, bus: (context) => (bus = new PostgresBus(settings, context)) });
    this.schema = settings.schema;
    this.pgBus = bus!;
  }

  /** This node's counters for this hub: the core's, the bus's, the queue. */
  override get counters(): PostgresBackplaneCounters {
    return { ...this.pgBus.counters, ...super.counters, queueLength: this.pgBus.status().queued };
  }

  /** Reads and delivers every row committed so far on this node's channels. */
  catchUp(): Promise<void> {
    return this.pgBus.catchUp();
  }
}
