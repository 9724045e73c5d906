/**
 * {@link RedisPresenceStore}: the scale-out core's presence store over the Redis presence backend.
 * @module
 */
import { type PresenceEvent, SwitchboardError } from '@switchboard/server';
import { ScaleoutPresenceStore } from '@switchboard/server/scaleout';
import type { RedisOptions } from 'ioredis';
import { RedisPresenceBackend } from './redis-presence-backend.js';

/** Options of a {@link RedisPresenceStore}. */
export interface RedisPresenceStoreOptions {
  /** The Redis to use: ioredis options or a `redis://` URL. Default `redis://127.0.0.1:6379`. */
  redis?: RedisOptions | string;
  /** Prefix of every key and channel; keeps clusters (and test runs) apart. Default `sb:presence:`. */
  prefix?: string;
  /** This node's id, unique in the cluster. Default a random UUID. */
  nodeId?: string;
  /** How long a user with no connection left stays online before `userOffline`. Default 5 000 ms. */
  graceMs?: number;
  /** How long a node that stopped heartbeating keeps its connections. Default 15 000 ms. */
  leaseMs?: number;
  /** How often the node renews its lease and looks for dead nodes and due offlines. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** How many recent events the log keeps for nodes catching up after a resubscribe. Default 1 000. */
  eventLogLength?: number;
  /**
   * Receives what goes wrong without a caller to reject: a listener that threw (with the event), a
   * Redis error of the heartbeat or the subscription (`SB_ERR_BACKPLANE_UNAVAILABLE`, retried by
   * itself), events lost beyond the log (`SB_ERR_BACKPLANE_REPLAY_GAP`). Default: a process
   * warning with code `SB_PRESENCE_REDIS`.
   */
  onError?: (error: unknown, event?: PresenceEvent) => void;
}

/**
 * The `PresenceStore` over Redis: a thin wrapper that runs the core's {@link ScaleoutPresenceStore}
 * over a {@link RedisPresenceBackend}. One instance per node, every node with its own `nodeId` and
 * the same `prefix`. Await {@link ready} (or any method, which waits for it) before relying on
 * the node being in the cluster.
 *
 * - Each node holds a lease (`lease:<node>` with a PX expiry) renewed by its heartbeat; a node whose
 *   lease ran out is swept once by a surviving node's heartbeat (an atomic script).
 * - Online/offline transitions are decided in scripts; an offline waits in a sorted set of due times
 *   and is claimed once by whichever node's heartbeat (or grace timer) finds it due.
 * - Events carry an epoch and a gapless number; they are published and appended to a short stream.
 * - After a Redis restart or flush the node finds its lease gone on the next heartbeat and
 *   re-asserts its lease, connections and their groups, without announcing its users again.
 *
 * @example
 * ```ts
 * const presence = new RedisPresenceStore({ redis: process.env.REDIS_URL, nodeId: 'node-a' });
 * await presence.ready;
 * presence.subscribe((e) => console.log(e.type, e.userId));
 * ```
 */
export class RedisPresenceStore extends ScaleoutPresenceStore {
  constructor(options: RedisPresenceStoreOptions = {}) {
    const settings = {
      redis: options.redis ?? 'redis://127.0.0.1:6379',
      prefix: options.prefix ?? 'sb:presence:',
      eventLogLength: options.eventLogLength ?? 1_000,
    };
    if (!Number.isFinite(settings.eventLogLength) || settings.eventLogLength < 1) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `Presence eventLogLength must be a finite number, at least 1; got ${settings.eventLogLength}.`,
      );
    }
    super({
      backend: (context) => new RedisPresenceBackend(settings, context),
      warningCode: 'SB_PRESENCE_REDIS',
      ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.heartbeatIntervalMs !== undefined
        ? { heartbeatIntervalMs: options.heartbeatIntervalMs }
        : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
}
