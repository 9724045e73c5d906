/**
 * The PostgreSQL {@link PresenceStore}: the scale-out core's `ScaleoutPresenceStore` over the
 * {@link PostgresPresenceBackend} (node leases, grace periods and online/offline transitions decided
 * in SQL functions, sql/presence/001_presence.sql), with this package's options.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { PresenceStore } from '@switchboard/server';
import { ScaleoutPresenceStore } from '@switchboard/server/scaleout';
import { PostgresPresenceBackend } from './postgres-presence-backend.js';
import { type PostgresPresenceStoreOptions, presenceSettings } from './postgres-presence-options.js';

export type { PostgresPresenceCounters, PostgresPresenceStoreOptions } from './postgres-presence-options.js';

/**
 * The {@link PresenceStore} over PostgreSQL: one instance per node, every node with its own
 * `nodeId` and the same schema. A thin wrapper: the core (`ScaleoutPresenceStore`) keeps the
 * node's connections, the heartbeat, exactly-once in-order events and the re-assert after a lost
 * lease; the backend decides each transition in one SQL function call. Await {@link ready} (or any
 * method, which waits for it) before relying on the node being in the cluster. Applications
 * usually get it from `postgresBackplane(…)`.
 *
 * @example
 * ```ts
 * const presence = new PostgresPresenceStore({ pg: process.env.DATABASE_URL, nodeId: 'node-a' });
 * await presence.ready;
 * presence.subscribe((e) => console.log(e.type, e.userId));
 * ```
 */
export class PostgresPresenceStore extends ScaleoutPresenceStore {
  /** The schema of the tables. */
  readonly schema: string;

  constructor(options: PostgresPresenceStoreOptions = {}) {
    const nodeId = options.nodeId ?? randomUUID();
    const settings = presenceSettings(options, nodeId);
    super({
      ...options,
      nodeId,
      backend: (context) => new PostgresPresenceBackend(settings, context),
      warningCode: 'SB_PRESENCE_POSTGRES',
    });
    this.schema = settings.schema;
  }
}
