/**
 * @switchboard/backplane-postgres: Switchboard scale-out on PostgreSQL, a thin adapter on the
 * scale-out core of `@switchboard/server/scaleout`: {@link PostgresBus} (the transport: a log table,
 * NOTIFY, read positions, routes and node leases) and {@link PostgresPresenceBackend} (presence
 * decided in SQL functions). {@link migrate} keeps the schema (bus and presence) up to date. See
 * docs/scale-out.md.
 * `postgresBackplane({ url, prefix, nodeId })` is the one object an application passes to its
 * `HubServer`.
 * @module
 */
export {
  loadSqlFiles,
  type MigrateOptions,
  migrate,
  quoteIdent,
  type SqlFile,
  schemaFromPrefix,
  sqlDir,
} from './migrations.js';
export { type PostgresBackplaneOptions, postgresBackplane } from './postgres-backplane.js';
export { PostgresBus, type PostgresBusCounters } from './postgres-bus.js';
export { PostgresHubLifetimeManager } from './postgres-hub-lifetime-manager.js';
export type {
  PostgresBackplaneCounters,
  PostgresBusOptions,
  PostgresBusSettings,
  PostgresConnectionOptions,
  PostgresHubLifetimeManagerOptions,
} from './postgres-options.js';
export { PostgresUserGroupStore, type PostgresUserGroupStoreOptions } from './postgres-user-group-store.js';
export {
  PostgresPresenceBackend,
  type PostgresPresenceSettings,
} from './presence/postgres-presence-backend.js';
export {
  type PostgresPresenceCounters,
  PostgresPresenceStore,
  type PostgresPresenceStoreOptions,
} from './presence/postgres-presence-store.js';
