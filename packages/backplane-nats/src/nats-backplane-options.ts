/**
 * The options of the NATS backplane, and their defaults.
 * @module
 */
import type { ConnectionOptions } from '@nats-io/transport-node';

/** What the NATS transport and presence of a node are built from (see `natsBackplane`). */
export interface NatsOptions {
  /**
   * The NATS server(s): a URL (`nats://127.0.0.1:4222`), several, or full connection options of
   * `@nats-io/transport-node` (credentials, TLS). Default `nats://127.0.0.1:4222`.
   */
  readonly servers?: string | readonly string[] | ConnectionOptions;
  /** Same as {@link servers} with one URL (`BACKPLANE_URL`, `NATS_URL`). */
  readonly url?: string;
  /**
   * Keeps clusters (and test runs) apart: the streams, bucket and subjects of a prefix are its own.
   * Default `switchboard:`.
   */
  readonly prefix?: string;
  /** The replay window by count: entries kept per channel. Default 10 000. */
  readonly maxLen?: number;
  /** The replay window by age, in milliseconds. Default 60 000. */
  readonly maxAgeMs?: number;
  /** Publishes held while NATS is unreachable (past it the oldest is dropped). Default 10 000. */
  readonly maxQueuedPublishes?: number;
  /**
   * Where JetStream keeps the replay logs and the presence document: `file` (they survive a
   * restart of nats-server: nothing is lost across it) or `memory`. Default `file`.
   */
  readonly storage?: 'file' | 'memory';
  /** How many recent presence events the presence document keeps. Default 256. */
  readonly presenceEventLogLength?: number;
}

/** The defaults of {@link NatsOptions}. */
export const natsDefaults = {
  url: 'nats://127.0.0.1:4222',
  prefix: 'switchboard:',
  maxLen: 10_000,
  maxAgeMs: 60_000,
  maxQueuedPublishes: 10_000,
  storage: 'file',
  presenceEventLogLength: 256,
} as const;
