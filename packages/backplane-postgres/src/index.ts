/**
 * @switchboard/backplane-postgres: Switchboard scale-out on PostgreSQL.
 * {@link PostgresHubLifetimeManager} routes sends, groups, users, client results and closes across
 * nodes through a log table and NOTIFY; {@link migrate} keeps the schema (bus and presence) up to
 * date. See docs/scale-out.md.
 *
 * @example
 * ```ts
 * import { HubServer } from '@switchboard/server';
 * import { PostgresHubLifetimeManager } from '@switchboard/backplane-postgres';
 *
 * const hubs = new HubServer({
 *   lifetimeManagerFactory: (path) =>
 *     new PostgresHubLifetimeManager({ pg: process.env.DATABASE_URL, hubName: path }),
 * });
 * ```
 * @module
 */
export {
  type BackplanePostgresErrorCode,
  backplanePostgresErrors,
  PostgresBackplaneError,
} from './errors.js';
export {
  loadSqlFiles,
  type MigrateOptions,
  migrate,
  quoteIdent,
  type SqlFile,
  schemaFromPrefix,
  sqlDir,
} from './migrations.js';
export type { BusCounters } from './postgres-bus.js';
export { PostgresHubLifetimeManager } from './postgres-hub-lifetime-manager.js';
export type {
  PostgresBackplaneCounters,
  PostgresHubLifetimeManagerOptions,
} from './postgres-hub-lifetime-manager-options.js';
// presence (PostgresPresenceStore, src/presence/)
export {
  type PostgresPresenceCounters,
  PostgresPresenceStore,
  type PostgresPresenceStoreOptions,
} from './presence/postgres-presence-store.js';
