/**
 * The PostgreSQL {@link PresenceStore}: the scale-out core's `ScaleoutPresenceStore` over the
 * {@link PostgresPresenceBackend} (node leases, grace periods and online/offline transitions decided
 * in SQL functions, sql/presence/001_presence.sql), with this package's options, counters and logs.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { PresenceEvent, PresenceStore } from '@switchboard/server';
import { ScaleoutPresenceStore } from '@switchboard/server/scaleout';
import { PostgresPresenceBackend } from './postgres-presence-backend.js';
import {
  type PostgresPresenceCounters,
  type PostgresPresenceStoreOptions,
  presenceSettings,
} from './postgres-presence-options.js';

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
  private readonly pgBackend: PostgresPresenceBackend;
  private readonly errorCount: { n: number };

  constructor(options: PostgresPresenceStoreOptions = {}) {
    const nodeId = options.nodeId ?? randomUUID();
    const settings = presenceSettings(options, nodeId);
    const errorCount = { n: 0 };
    const logger = options.logger;
    const hook = options.onError ?? reportError;
    let backend: PostgresPresenceBackend | undefined;
    super({
      nodeId,
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.heartbeatIntervalMs !== undefined
        ? { heartbeatIntervalMs: options.heartbeatIntervalMs }
        : {}),
      backend: (context) => {
        backend = new PostgresPresenceBackend(settings, context);
        return backend;
      },
      onError: (error: unknown, event?: PresenceEvent) => {
        if (!event) {
          // A database fault or lost events (a listener that threw is the application's).
          errorCount.n++;
          const code = (error as { code?: unknown }).code;
          const fields = { code, message: error instanceof Error ? error.message : String(error), nodeId };
          if (code === 'SB_ERR_BACKPLANE_REPLAY_GAP') logger?.error('presence.error', fields);
          else logger?.warn('presence.error', fields);
        }
        hook(error, event);
      },
    });
    this.schema = settings.schema;
    this.pgBackend = backend!;
    this.errorCount = errorCount;
  }

  /** What the store counted since it started (errors, LISTEN reconnects, re-asserts, retries). */
  get counters(): PostgresPresenceCounters {
    return {
      errors: this.errorCount.n,
      reconnects: this.pgBackend.reconnects,
      reasserts: this.pgBackend.counts.reasserts,
      retries: this.pgBackend.counts.retries,
    };
  }
}

/** The default `onError`: a process warning with code `SB_PRESENCE_POSTGRES`. */
function reportError(error: unknown, event?: PresenceEvent): void {
  const about = event ? ` on ${event.type} of '${event.userId}'` : '';
  process.emitWarning(
    `PostgreSQL presence${about}: ${error instanceof Error ? error.message : String(error)}`,
    { code: 'SB_PRESENCE_POSTGRES' },
  );
}
