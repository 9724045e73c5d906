/**
 * The options of the {@link PostgresPresenceStore}, its counters, and the small helpers it uses
 * (option checks, connection settings, error wrapping, retry decisions).
 * @module
 */
import {
  type Logger,
  type PresenceConnection,
  type PresenceEvent,
  SwitchboardError,
} from '@switchboard/server';
import type pg from 'pg';
import { PostgresBackplaneError } from '../errors.js';
import type { PostgresPresenceStore } from './postgres-presence-store.js';

/** Options of a {@link PostgresPresenceStore}. */
export interface PostgresPresenceStoreOptions {
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
  /** This node's id, unique in the cluster. Default a random UUID. */
  nodeId?: string;
  /** How long a user with no connection left stays online before `userOffline`. Default 5 000 ms. */
  graceMs?: number;
  /** How long a node that stopped heartbeating keeps its connections. Default 15 000 ms. */
  leaseMs?: number;
  /** How often the node renews its lease and looks for dead nodes and due offlines. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** How many recent events the log table keeps for nodes catching up. Default 1 000. */
  eventLogLength?: number;
  /** Connections of the store's query pool. Default 4 (plus one LISTEN connection). */
  poolSize?: number;
  /**
   * The `application_name` of the store's connections (`pg_stat_activity`); the LISTEN connection
   * gets `:listen` appended. Default `sb-presence:<nodeId>`, cut to fit 63 bytes.
   */
  applicationName?: string;
  /** Receives `presence.error` (warn; error for lost events) and `presence.reconnected` (info). */
  logger?: Logger;
  /**
   * Receives what goes wrong without a caller to reject: a listener that threw (with the event), a
   * database error of the heartbeat or the LISTEN connection (`SB_ERR_BACKPLANE_PG`, retried by
   * itself), events lost beyond the log (`SB_ERR_BACKPLANE_PG_REPLAY_GAP`). Default: a process
   * warning.
   */
  onError?: (error: unknown, event?: PresenceEvent) => void;
}

/** What a {@link PostgresPresenceStore} counted since it started. */
export interface PostgresPresenceCounters {
  /** Errors reported (database, LISTEN connection, lost events; not listeners that threw). */
  readonly errors: number;
  /** Times the LISTEN connection was re-established. */
  readonly reconnects: number;
  /** Times the node re-asserted its lease and connections after losing them. */
  readonly reasserts: number;
  /** Store calls retried after a dropped connection or a deadlock. */
  readonly retries: number;
}

/** SQLSTATEs worth one more try: connection lost or refused, server shutting down, deadlock. */
const RETRYABLE = /^(08|57P0|40P01|40001)/;
/** How many times a store call is tried. */
export const MAX_ATTEMPTS = 4;
/** A schema name the store accepts (it goes into the connections' search_path unquoted). */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A URL or settings, as pg client settings. */
export function clientConfig(value: string | pg.ClientConfig): pg.ClientConfig {
  return typeof value === 'string' ? { connectionString: value } : { ...value };
}

/** The store's connections resolve the tables' and functions' unqualified names in its schema. */
export function withSearchPath(config: pg.ClientConfig, schema: string): pg.ClientConfig {
  const searchPath = `-c search_path=${schema}`;
  return { ...config, options: config.options ? `${config.options} ${searchPath}` : searchPath };
}

/** A connection that dropped, a server going away, a deadlock: worth another try. */
export function retryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return RETRYABLE.test(code);
  // pg's own errors for a connection that ended carry no SQLSTATE.
  return (
    error instanceof Error && /Connection terminated|ECONNRESET|EPIPE|not queryable/i.test(error.message)
  );
}

/** A connection row's `data`, as a frozen {@link PresenceConnection}. */
export function parseConnection(value: unknown): PresenceConnection {
  const c = (typeof value === 'string' ? JSON.parse(value) : value) as PresenceConnection;
  return Object.freeze({
    connectionId: c.connectionId,
    userId: c.userId,
    nodeId: c.nodeId,
    ...(c.hubPath === undefined ? {} : { hubPath: c.hubPath }),
    transport: c.transport,
    connectedAt: c.connectedAt,
    device: Object.freeze({ type: c.device.type, browser: c.device.browser }),
  });
}

/** A database failure of the store, as `SB_ERR_BACKPLANE_PG` (a catalogue error is kept as it is). */
export function pgError(what: string, cause: unknown): PostgresBackplaneError {
  if (cause instanceof PostgresBackplaneError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new PostgresBackplaneError('SB_ERR_BACKPLANE_PG', `Presence ${what} failed: ${message}`, { cause });
}

/** A timing or size option, refused with `SB_ERR_HUB_CONFIGURATION` when not a finite number ≥ min. */
export function checkMs(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Presence ${name} must be a finite number, at least ${min}; got ${value}.`,
    );
  }
  return value;
}

/** The default `onError`: a process warning. */
export function reportError(error: unknown, event?: PresenceEvent): void {
  const about = event ? ` on ${event.type} of '${event.userId}'` : '';
  process.emitWarning(
    `PostgreSQL presence${about}: ${error instanceof Error ? error.message : String(error)}`,
    { code: 'SB_PRESENCE_POSTGRES' },
  );
}
