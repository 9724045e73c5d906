/**
 * The options of the PostgreSQL backplane (its bus and its presence), its counters, and how they
 * become the settings of a node's {@link PostgresBus} and {@link PostgresPresenceBackend}.
 * @module
 */
import { createHash } from 'node:crypto';
import { SwitchboardError } from '@switchboard/server';
import {
  checkNumberOption,
  type LifetimeManagerWrapperOptions,
  type PresenceStoreWrapperOptions,
  type ReplayWindowOptions,
  type ScaleoutCounters,
  type ScaleoutPresenceCounters,
} from '@switchboard/server/scaleout';
import type pg from 'pg';
import { schemaFromPrefix } from './migrations.js';
import type { PostgresBusCounters } from './postgres-bus.js';
import type { PostgresPresenceSettings } from './presence/postgres-presence-backend.js';

/** Where a node's PostgreSQL connections go, and how they are told apart (bus and presence). */
export interface PostgresConnectionOptions {
  /** A `postgres://` URL or pg pool settings. Default: postgres@127.0.0.1:5432/postgres. */
  readonly pg?: string | pg.PoolConfig;
  /** Settings of the LISTEN connection when they differ from `pg` (another route to the server). */
  readonly listen?: string | pg.ClientConfig;
  /**
   * Keeps clusters (and test runs) apart: the schema is `schemaFromPrefix(prefix)`, so the same
   * prefix option works on every backplane. Default `switchboard:` (schema `switchboard`).
   */
  readonly prefix?: string;
  /** The schema to use instead of the one derived from `prefix` (lowercase letters, digits, `_`). */
  readonly schema?: string;
  /**
   * `application_name` of the connections, so an operator finds them in `pg_stat_activity`.
   * Default `switchboard:<nodeId>` for the bus, `sb-presence:<nodeId>` for presence (cut to fit).
   */
  readonly applicationName?: string;
}

/** Where the PostgreSQL bus writes and reads, and its replay window (shared by every hub of a node). */
export interface PostgresBusOptions
  extends PostgresConnectionOptions,
    Pick<ReplayWindowOptions, 'maxAgeMs' | 'maxQueuedPublishes'> {
  /** Replay window: rows kept in the log (all hubs and channels of the schema). Default 100 000. */
  readonly maxRows?: number;
  /** How often a node deletes rows beyond the window (one node at a time). Default 5 000 ms. */
  readonly trimIntervalMs?: number;
  /** How often a node reads its channels without a notification (a safety net). Default 1 000 ms. */
  readonly pollIntervalMs?: number;
  /**
   * A node renews its lease every third of this; a node silent for longer is taken as gone: a
   * remote group change for one of its connections resolves at once and a client invocation fails
   * with "does not exist", instead of waiting for it. Default 15 000 ms.
   */
  readonly nodeLeaseMs?: number;
  /** How long a remote group change waits for the owning node, and a new subscription for its start. Default 5 000 ms. */
  readonly ackTimeoutMs?: number;
  /** Connections of each hub's pool (writes go one batch at a time). Default 2, plus one LISTEN connection. */
  readonly poolSize?: number;
}

/** The settings of a node's PostgreSQL buses (one bus per hub), from the options. */
export interface PostgresBusSettings
  extends Required<
    Pick<
      PostgresBusOptions,
      'maxAgeMs' | 'maxRows' | 'maxQueuedPublishes' | 'pollIntervalMs' | 'trimIntervalMs' | 'nodeLeaseMs'
    >
  > {
  /** Settings of the pool (writes, routes, lease, clean-up), `application_name` included. */
  readonly pool: pg.PoolConfig;
  /** Settings of the LISTEN connection (which also reads), `application_name` included. */
  readonly listen: pg.ClientConfig;
  readonly schema: string;
  /** The NOTIFY channel of the schema. */
  readonly notifyChannel: string;
  /** How long a subscription waits for its start position (`ackTimeoutMs`). */
  readonly subscribeTimeoutMs: number;
  /** Migrates the schema once for a backplane's buses. Default: each bus migrates the `bus` component. */
  readonly prepare?: () => Promise<void>;
}

/** Options of `PostgresHubLifetimeManager`: the core manager's and the bus's. */
export interface PostgresHubLifetimeManagerOptions
  extends LifetimeManagerWrapperOptions,
    PostgresBusOptions {}

/** The counters of one node and hub: the core's, the bus's, and the queue. */
export interface PostgresBackplaneCounters extends ScaleoutCounters, PostgresBusCounters {
  /** Sends waiting to be written now. */
  readonly queueLength: number;
}

/** Options of a `PostgresPresenceStore`: the core store's (timing, `onError`, `logger`) and the database's. */
export interface PostgresPresenceStoreOptions extends PresenceStoreWrapperOptions, PostgresConnectionOptions {
  /** How many recent events the log table keeps for nodes catching up. Default 1 000. */
  eventLogLength?: number;
  /** Connections of the store's query pool. Default 4 (plus one LISTEN connection). */
  poolSize?: number;
}

/**
 * What a `PostgresPresenceStore` counted since it started (the core's counters: errors, LISTEN
 * reconnects, re-asserts, calls retried after a dropped connection or a deadlock).
 */
export type PostgresPresenceCounters = ScaleoutPresenceCounters;

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** A schema name presence accepts (it goes into the connections' search_path unquoted). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A URL or settings, as pg client settings. */
export function clientConfig(value: string | pg.ClientConfig): pg.ClientConfig {
  return typeof value === 'string' ? { connectionString: value } : { ...value };
}

function schemaOf(options: PostgresConnectionOptions): string {
  return options.schema ?? schemaFromPrefix(options.prefix ?? 'switchboard:');
}

/** The settings of a node's buses (every hub's) from the options. */
export function busSettings(options: PostgresBusOptions, nodeId: string): PostgresBusSettings {
  const schema = schemaOf(options);
  const application_name = Buffer.from(options.applicationName ?? `switchboard:${nodeId}`)
    .subarray(0, 63)
    .toString();
  const base: pg.PoolConfig = {
    connectionTimeoutMillis: 5_000,
    // Idle connections stay open: a send goes out at once instead of waiting for a new one.
    idleTimeoutMillis: 0,
    ...clientConfig(options.pg ?? DEFAULT_URL),
  };
  const listen =
    options.listen === undefined ? base : { connectionTimeoutMillis: 5_000, ...clientConfig(options.listen) };
  return {
    pool: { max: options.poolSize ?? 2, ...base, application_name },
    listen: { ...listen, application_name },
    schema,
    notifyChannel: `switchboard_bus_${createHash('sha1').update(schema).digest('hex').slice(0, 12)}`,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    maxRows: options.maxRows ?? 100_000,
    maxQueuedPublishes: options.maxQueuedPublishes ?? 10_000,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    trimIntervalMs: options.trimIntervalMs ?? 5_000,
    nodeLeaseMs: options.nodeLeaseMs ?? 15_000,
    subscribeTimeoutMs: options.ackTimeoutMs ?? 5_000,
  };
}

/** The presence backend's settings (the schema checked: `SB_ERR_HUB_CONFIGURATION` before anything connects). */
export function presenceSettings(
  options: PostgresPresenceStoreOptions,
  nodeId: string,
): PostgresPresenceSettings {
  const schema = schemaOf(options);
  if (!SCHEMA_NAME.test(schema)) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Presence schema '${schema}' must be lowercase letters, digits and '_' (at most 63, not starting with a digit).`,
    );
  }
  const base = clientConfig(options.pg ?? DEFAULT_URL);
  const appName = (options.applicationName ?? `sb-presence:${nodeId}`).slice(0, 56);
  // The store's connections resolve the tables' and functions' unqualified names in its schema.
  const inSchema = (config: pg.ClientConfig): pg.ClientConfig => ({
    ...config,
    options: `${config.options ? `${config.options} ` : ''}-c search_path=${schema}`,
  });
  return {
    schema,
    eventLogLength: checkNumberOption('eventLogLength', options.eventLogLength ?? 1_000),
    pool: {
      ...inSchema(base),
      max: checkNumberOption('poolSize', options.poolSize ?? 4),
      application_name: appName,
    },
    listen: {
      ...inSchema(options.listen === undefined ? base : clientConfig(options.listen)),
      application_name: `${appName}:listen`,
    },
  };
}
