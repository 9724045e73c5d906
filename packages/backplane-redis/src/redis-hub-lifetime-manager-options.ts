/**
 * Options and counters of {@link RedisHubLifetimeManager}.
 * @module
 */
import type { HubProtocol } from '@switchboard/protocol';
import type { Logger } from '@switchboard/server';
import type { BackplaneError, ScaleoutCounters } from '@switchboard/server/scaleout';
import type { RedisOptions } from 'ioredis';
import type { RedisHubLifetimeManager } from './redis-hub-lifetime-manager.js';

/** The Redis bus's own options (shared by {@link RedisHubLifetimeManagerOptions} and `redisBackplane`). */
export interface RedisBusSettings {
  /** ioredis options or a `redis://` URL. Default: 127.0.0.1:6379. */
  readonly redis?: RedisOptions | string;
  /** Replay window: about this many entries per channel log. Default 10 000. */
  readonly maxLen?: number;
  /** Replay window: entries older than this leave the log. Default 60 000 ms. */
  readonly maxAgeMs?: number;
  /** Sends queued while Redis is unreachable; past it the oldest is dropped and counted. Default 10 000. */
  readonly maxQueuedPublishes?: number;
}

/** Options of {@link RedisHubLifetimeManager}. */
export interface RedisHubLifetimeManagerOptions extends RedisBusSettings {
  /** Prefix of every channel and key: keeps clusters (and test runs) apart. Default `switchboard:`. */
  readonly prefix?: string;
  /** This node's id, unique in the cluster. Default: a random UUID. */
  readonly nodeId?: string;
  /** The hub's name (its path): hubs never see each other's traffic. Default `hub`. */
  readonly hubName?: string;
  /** How long a remote group change waits for the owning node. Default 5 000 ms. */
  readonly ackTimeoutMs?: number;
  /**
   * Every protocol the cluster's clients may use: each send is serialized once for each and the
   * bytes travel to the other nodes. Default JSON and MessagePack.
   */
  readonly protocols?: readonly HubProtocol[];
  /** Receives every backplane error (Redis down, queue overflow, replay gap). Default: none (counted, and logged through `logger`). */
  readonly onError?: (error: BackplaneError) => void;
  /**
   * Logs every backplane error as `backplane.error` (`code`, `message`, `nodeId`, `hubName`): at
   * `error` level for a loss (replay gap, queue overflow, log reset), else `warn`. Default: silent.
   */
  readonly logger?: Logger;
}

/** The counters of one node's hub (the core's {@link ScaleoutCounters}). */
export type RedisBackplaneCounters = ScaleoutCounters;
