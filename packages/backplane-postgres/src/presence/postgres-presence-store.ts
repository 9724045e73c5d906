/**
 * {@link PostgresPresenceStore}: the scale-out core's `ScaleoutPresenceStore` over the
 * {@link PostgresPresenceBackend}, with this package's options.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ScaleoutPresenceStore } from '@switchboard/server/scaleout';
import { type PostgresPresenceStoreOptions, presenceSettings } from '../postgres-options.js';
import { PostgresPresenceBackend } from './postgres-presence-backend.js';

export type { PostgresPresenceCounters, PostgresPresenceStoreOptions } from '../postgres-options.js';

/**
 * The `PresenceStore` over PostgreSQL: one per node, each with its own `nodeId`, all on one schema.
 * The core keeps the node's connections, the heartbeat, exactly-once in-order events and the
 * re-assert after a lost lease; each transition is one SQL function call. Await `ready` before
 * relying on the node being in the cluster. Applications usually get it from `postgresBackplane(…)`.
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
    const warningCode = 'SB_PRESENCE_POSTGRES';
    super({ ...options, nodeId, warningCode, backend: (c) => new PostgresPresenceBackend(settings, c) });
    this.schema = settings.schema;
  }
}
