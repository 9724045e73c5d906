/**
 * The options of the {@link PostgresPresenceStore}, its counters, and how they become the settings
 * of its {@link PostgresPresenceBackend}.
 * @module
 */
import { SwitchboardError } from '@switchboard/server';
import {
  checkNumberOption,
  type PresenceStoreWrapperOptions,
  type ScaleoutPresenceCounters,
} from '@switchboard/server/scaleout';
import type pg from 'pg';
import { schemaFromPrefix } from '../migrations.js';
import { clientConfig } from '../postgres-settings.js';
import type { PostgresPresenceSettings } from './postgres-presence-backend.js';
import type { PostgresPresenceStore } from './postgres-presence-store.js';

/** Options of a {@link PostgresPresenceStore}: the core store's (timing, `onError`, `logger`) and the database's. */
export interface PostgresPresenceStoreOptions extends PresenceStoreWrapperOptions {
  /** The database: a `postgres://` URL or pg pool settings. Default: postgres@127.0.0.1:5432/postgres. */
  pg?: string | pg.PoolConfig;
  /** Settings of the LISTEN connection when they differ from `pg` (another route to the server). */
  listen?: string | pg.ClientConfig;
  /**
   * The schema of the tables (created and migrated at start). Lowercase letters, digits and `_`.
   * Default: derived from `prefix` (`schemaFromPrefix`).
   */
  schema?: string;
  /**
   * Keeps clusters (and test runs) apart when no schema is given: the schema is
   * `schemaFromPrefix(prefix)`, the same as the lifetime manager's for the same prefix (the tables'
   * names start with `presence_`). Default `switchboard:` (schema `switchboard`).
   */
  prefix?: string;
  /** How many recent events the log table keeps for nodes catching up. Default 1 000. */
  eventLogLength?: number;
  /** Connections of the store's query pool. Default 4 (plus one LISTEN connection). */
  poolSize?: number;
  /**
   * The `application_name` of the store's connections (`pg_stat_activity`); the LISTEN connection
   * gets `:listen` appended. Default `sb-presence:<nodeId>`, cut to fit 63 bytes.
   */
  applicationName?: string;
}

/**
 * What a {@link PostgresPresenceStore} counted since it started (the core's counters: errors,
 * LISTEN reconnects, re-asserts, calls retried after a dropped connection or a deadlock).
 */
export type PostgresPresenceCounters = ScaleoutPresenceCounters;

/** A schema name the store accepts (it goes into the connections' search_path unquoted). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The backend's settings from the options (the schema checked; refused with
 * `SB_ERR_HUB_CONFIGURATION` before anything connects).
 */
export function presenceSettings(
  options: PostgresPresenceStoreOptions,
  nodeId: string,
): PostgresPresenceSettings {
  const schema = options.schema ?? schemaFromPrefix(options.prefix ?? 'switchboard:');
  if (!SCHEMA_NAME.test(schema)) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Presence schema '${schema}' must be lowercase letters, digits and '_' (at most 63, not starting with a digit).`,
    );
  }
  const eventLogLength = checkNumberOption('eventLogLength', options.eventLogLength ?? 1_000);
  const poolSize = checkNumberOption('poolSize', options.poolSize ?? 4);
  const base = clientConfig(options.pg ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const appName = (options.applicationName ?? `sb-presence:${nodeId}`).slice(0, 56);
  return {
    schema,
    eventLogLength,
    pool: { ...withSearchPath(base, schema), max: poolSize, application_name: appName },
    listen: {
      ...withSearchPath(options.listen === undefined ? base : clientConfig(options.listen), schema),
      application_name: `${appName}:listen`,
    },
  };
}

/** The store's connections resolve the tables' and functions' unqualified names in its schema. */
function withSearchPath(config: pg.ClientConfig, schema: string): pg.ClientConfig {
  const searchPath = `-c search_path=${schema}`;
  return { ...config, options: config.options ? `${config.options} ${searchPath}` : searchPath };
}
