/**
 * Options and counters of {@link PostgresHubLifetimeManager} and of the PostgreSQL bus.
 * @module
 */
import type { LifetimeManagerWrapperOptions, ScaleoutCounters } from '@switchboard/server/scaleout';
import type pg from 'pg';
import type { PostgresBusCounters } from './postgres-bus.js';
import type { PostgresHubLifetimeManager } from './postgres-hub-lifetime-manager.js';

/** Where the PostgreSQL bus writes and reads, and its replay window (shared by every hub of a node). */
export interface PostgresBusOptions {
  /** A `postgres://` URL or pg pool settings. Default: postgres@127.0.0.1:5432/postgres. */
  readonly pg?: string | pg.PoolConfig;
  /**
   * Keeps clusters (and test runs) apart: the schema is `schemaFromPrefix(prefix)`, so the same
   * prefix option works on every backplane. Default `switchboard:` (schema `switchboard`).
   */
  readonly prefix?: string;
  /** The schema to use instead of the one derived from `prefix`. */
  readonly schema?: string;
  /**
   * `application_name` of this node's PostgreSQL connections (pool and LISTEN), so an operator can
   * find them in `pg_stat_activity`. Default `switchboard:<nodeId>` (cut to 63 bytes).
   */
  readonly applicationName?: string;
  /** Settings of the LISTEN connection when they differ from `pg` (another route to the server). */
  readonly listen?: string | pg.ClientConfig;
  /** Replay window: rows kept in the log (all hubs and channels of the schema). Default 100 000. */
  readonly maxRows?: number;
  /** Replay window: rows older than this leave the log. Default 60 000 ms. */
  readonly maxAgeMs?: number;
  /** How often a node deletes rows beyond the window (one node at a time). Default 5 000 ms. */
  readonly trimIntervalMs?: number;
  /**
   * How often a node reads its channels without a notification (a safety net, and it keeps the
   * read position fresh). Default 1 000 ms.
   */
  readonly pollIntervalMs?: number;
  /** Sends queued while PostgreSQL is unreachable; past it the oldest is dropped and counted. Default 10 000. */
  readonly maxQueuedPublishes?: number;
  /**
   * A node renews its lease every third of this; a node silent for longer is taken as gone: a
   * remote group change for one of its connections resolves at once and a client invocation fails
   * with "does not exist", instead of waiting for it. Default 15 000 ms.
   */
  readonly nodeLeaseMs?: number;
  /**
   * How long a remote group change waits for the owning node, and a new subscription for its start
   * position. Default 5 000 ms.
   */
  readonly ackTimeoutMs?: number;
  /**
   * Connections of each hub's pool (writes go one batch at a time; the clean-up, the lease and the
   * routes use the second). Default 2, plus one LISTEN connection.
   */
  readonly poolSize?: number;
}

/** Options of {@link PostgresHubLifetimeManager}: the core manager's and the bus's. */
export interface PostgresHubLifetimeManagerOptions
  extends LifetimeManagerWrapperOptions,
    PostgresBusOptions {}

/** The counters of one node and hub: the core's, the bus's, and the queue. */
export interface PostgresBackplaneCounters extends ScaleoutCounters, PostgresBusCounters {
  /** Sends waiting to be written now. */
  readonly queueLength: number;
}
