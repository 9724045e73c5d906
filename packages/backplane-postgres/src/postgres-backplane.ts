/**
 * {@link postgresBackplane}: the one object per node that puts a `HubServer` on PostgreSQL.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type Backplane,
  type BackplaneCommonOptions,
  backplanePresenceOptions,
  createBackplane,
  definedOptions,
} from '@switchboard/server/scaleout';
import pg from 'pg';
import { migrateComponents } from './migrations.js';
import { PostgresBus } from './postgres-bus.js';
import { busSettings, type PostgresBusOptions, type PostgresBusSettings } from './postgres-options.js';
import { PostgresPresenceStore } from './presence/postgres-presence-store.js';

/** Options of {@link postgresBackplane}. */
export interface PostgresBackplaneOptions extends BackplaneCommonOptions, Omit<PostgresBusOptions, 'pg'> {
  /** The database: a `postgres://` URL or pg pool settings. Default: postgres@127.0.0.1:5432/postgres. */
  readonly url?: string | pg.PoolConfig;
  /** The same as a `url` string (pg's name for it). */
  readonly connectionString?: string;
}

/**
 * A cluster node's backplane on PostgreSQL: every hub gets a `ScaleoutHubLifetimeManager` over a
 * {@link PostgresBus}, the server a {@link PostgresPresenceStore}, all in one schema
 * (`schemaFromPrefix(prefix)`, or `schema`). `ready()` migrates the schema (rejecting with
 * `SB_ERR_BACKPLANE_MIGRATION` when it cannot), then waits for presence and every hub's LISTEN
 * connection; `health()` reports each hub's bus; `hubs.close()` closes it.
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   backplane: postgresBackplane({ url: process.env.DATABASE_URL, prefix: 'chat:', nodeId: 'node-a' }),
 * });
 * hubs.mapHub('/chat', ChatHub);
 * await hubs.ready();
 * ```
 */
export function postgresBackplane(options: PostgresBackplaneOptions = {}): Backplane {
  const nodeId = options.nodeId ?? randomUUID();
  const database = options.url ?? options.connectionString;
  const settings = busSettings({ ...options, ...definedOptions({ pg: database }) }, nodeId);
  // The schema once per node, for the backplane's start and every hub's bus (retried after a failure).
  let migrated: Promise<void> | undefined;
  const prepare = () => {
    migrated ??= migrateAll(settings).catch((error: unknown) => {
      migrated = undefined;
      throw error;
    });
    return migrated;
  };
  const bus = { ...settings, prepare };
  return createBackplane({
    ...options,
    nodeId,
    backend: 'postgres',
    bus: (context) => new PostgresBus(bus, context),
    presence: () =>
      new PostgresPresenceStore({
        ...backplanePresenceOptions(options, nodeId, 'SB_PRESENCE_POSTGRES'),
        ...definedOptions({
          pg: database,
          listen: options.listen,
          applicationName:
            options.applicationName === undefined ? undefined : `${options.applicationName}:presence`,
          eventLogLength: options.presenceEventLogLength,
        }),
        schema: bus.schema,
      }),
    // The schema first, so that a failed migration refuses to start.
    start: prepare,
  });
}

/** Migrates the bus and presence components of the schema, on a connection of its own. */
async function migrateAll(settings: PostgresBusSettings): Promise<void> {
  const pool = new pg.Pool({ ...settings.pool, max: 1 });
  pool.on('error', () => undefined);
  try {
    await migrateComponents(pool, settings.schema, 'bus', 'presence');
  } finally {
    await pool.end().catch(() => undefined);
  }
}
