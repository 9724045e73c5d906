/**
 * {@link RedisHubLifetimeManager}: the scale-out core's lifetime manager over the Redis bus, for
 * applications that wire one hub at a time (`lifetimeManagerFactory`), and its options.
 * `redisBackplane()` is the one-object way.
 * @module
 */
import {
  type BusFactory,
  type LifetimeManagerWrapperOptions,
  lifetimeManagerWrapper,
  type ReplayWindowOptions,
  replayWindow,
  type ScaleoutCounters,
  type ScaleoutHubLifetimeManager,
} from '@switchboard/server/scaleout';
import type { RedisOptions } from 'ioredis';
import { RedisBus } from './redis-bus.js';

/** The Redis bus's own options (shared by {@link RedisHubLifetimeManagerOptions} and `redisBackplane`). */
export interface RedisBusSettings extends ReplayWindowOptions {
  /** ioredis options or a `redis://` URL. Default: 127.0.0.1:6379. */
  readonly redis?: RedisOptions | string;
}

/** Options of {@link RedisHubLifetimeManager}: the core manager's, the bus's, and the prefix. */
export interface RedisHubLifetimeManagerOptions extends LifetimeManagerWrapperOptions, RedisBusSettings {
  /** Prefix of every channel and key: keeps clusters (and test runs) apart. Default `switchboard:`. */
  readonly prefix?: string;
}

/** The counters of one node's hub (the core's {@link ScaleoutCounters}). */
export type RedisBackplaneCounters = ScaleoutCounters;

/**
 * A `HubLifetimeManager` across nodes on Redis (docs/scale-out.md): a thin wrapper that runs the
 * core's `ScaleoutHubLifetimeManager` over a {@link RedisBus}. Each channel (`all`, a group,
 * a user, a connection, a node's inbox) is a Redis pub/sub channel `<prefix><hub>:<channel>`, and
 * its replay log a stream `<prefix><hub>:<channel>#log`, appended in the same script as the
 * PUBLISH; within the replay window (`maxLen`, `maxAgeMs`) nothing is lost and nothing arrives
 * twice.
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   lifetimeManagerFactory: (path) =>
 *     new RedisHubLifetimeManager({ redis: process.env.REDIS_URL, hubName: path, prefix: 'chat:' }),
 * });
 * ```
 */
export const RedisHubLifetimeManager = lifetimeManagerWrapper<RedisHubLifetimeManagerOptions>(
  'RedisHubLifetimeManager',
  (options) => redisBusFactory(options.prefix ?? 'switchboard:', options),
);
/** A {@link RedisHubLifetimeManager}: the core's `ScaleoutHubLifetimeManager`. */
export type RedisHubLifetimeManager = ScaleoutHubLifetimeManager;

/** The bus factory of the Redis backend, under a prefix (every hub's channels follow it). */
export function redisBusFactory(prefix: string, settings: RedisBusSettings): BusFactory {
  const window = replayWindow(settings);
  return (context) => new RedisBus({ redis: settings.redis, prefix, ...window }, context);
}
