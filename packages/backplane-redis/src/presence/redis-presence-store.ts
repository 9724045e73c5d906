/**
 * {@link RedisPresenceStore}: the scale-out core's presence store over the Redis presence backend.
 * @module
 */
import {
  checkNumberOption,
  type PresenceStoreWrapperOptions,
  presenceStoreWrapper,
  type ScaleoutPresenceStore,
} from '@switchboard/server/scaleout';
import type { RedisOptions } from 'ioredis';
import { RedisPresenceBackend } from './redis-presence-backend.js';

/** Options of a {@link RedisPresenceStore}: the core store's (timing, `onError`, `logger`) and where Redis is. */
export interface RedisPresenceStoreOptions extends PresenceStoreWrapperOptions {
  /** The Redis to use: ioredis options or a `redis://` URL. Default `redis://127.0.0.1:6379`. */
  readonly redis?: RedisOptions | string;
  /** Prefix of every key and channel; keeps clusters (and test runs) apart. Default `sb:presence:`. */
  readonly prefix?: string;
  /** How many recent events the log keeps for nodes catching up after a resubscribe. Default 1 000. */
  readonly eventLogLength?: number;
}

/**
 * The `PresenceStore` over Redis: a thin wrapper that runs the core's `ScaleoutPresenceStore`
 * over a {@link RedisPresenceBackend}. One instance per node, every node with its own `nodeId` and
 * the same `prefix`. Await `ready` (or any method, which waits for it) before relying on
 * the node being in the cluster. The default `onError` warns with code `SB_PRESENCE_REDIS`.
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
export const RedisPresenceStore = presenceStoreWrapper<RedisPresenceStoreOptions>(
  'RedisPresenceStore',
  'SB_PRESENCE_REDIS',
  (options) => {
    const settings = {
      redis: options.redis ?? 'redis://127.0.0.1:6379',
      prefix: options.prefix ?? 'sb:presence:',
      eventLogLength: checkNumberOption('eventLogLength', options.eventLogLength ?? 1_000),
    };
    return (context) => new RedisPresenceBackend(settings, context);
  },
);
/** A {@link RedisPresenceStore}: the core's `ScaleoutPresenceStore`. */
export type RedisPresenceStore = ScaleoutPresenceStore;
