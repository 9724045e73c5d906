/**
 * {@link redisBackplane}: the scale-out core on Redis as one object per node.
 * @module
 */
import {
  type Backplane,
  type BackplaneCommonOptions,
  backplanePresenceOptions,
  createBackplane,
  definedOptions,
} from '@switchboard/server/scaleout';
import type { RedisOptions } from 'ioredis';
import { RedisPresenceStore } from './presence/redis-presence-store.js';
import { type RedisBusSettings, redisBusFactory } from './redis-hub-lifetime-manager.js';

/** Options of {@link redisBackplane}. */
export interface RedisBackplaneOptions extends BackplaneCommonOptions, Omit<RedisBusSettings, 'redis'> {
  /** The Redis: a `redis://` URL or ioredis options. Default `redis://127.0.0.1:6379`. */
  readonly url?: string | RedisOptions;
  /**
   * Prefix of every key and channel; keeps clusters (and test runs) apart. Hubs live under
   * `<prefix>hubs:<hub path>:`, presence under `<prefix>presence:`. Default `switchboard:`.
   */
  readonly prefix?: string;
}

/**
 * The Redis backplane of a node: every hub's lifetime manager on the Redis bus, presence in Redis,
 * readiness, health and close, for `new HubServer({ backplane })`.
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   backplane: redisBackplane({ url: process.env.REDIS_URL, prefix: 'chat:', nodeId: 'node-a' }),
 * });
 * hubs.mapHub('/hubs/chat', ChatHub);
 * await hubs.ready();
 * ```
 */
export function redisBackplane(options: RedisBackplaneOptions = {}): Backplane {
  const prefix = options.prefix ?? 'switchboard:';
  const redis = options.url ?? 'redis://127.0.0.1:6379';
  return createBackplane({
    ...options,
    backend: 'redis',
    bus: redisBusFactory(`${prefix}hubs:`, { ...options, redis }),
    presence: (nodeId) =>
      new RedisPresenceStore({
        ...backplanePresenceOptions(options, nodeId, 'SB_PRESENCE_REDIS'),
        redis,
        prefix: `${prefix}presence:`,
        ...definedOptions({ eventLogLength: options.presenceEventLogLength }),
      }),
  });
}
