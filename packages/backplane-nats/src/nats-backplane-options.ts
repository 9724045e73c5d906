/**
 * The options of the NATS backplane (the replay window's are the core's), and their defaults.
 * @module
 */
import type { ConnectionOptions } from '@nats-io/transport-node';
import type { ReplayWindowOptions } from '@switchboard/server/scaleout';

/** What the NATS transport and presence of a node are built from (see `natsBackplane`). */
export interface NatsOptions extends ReplayWindowOptions {
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
