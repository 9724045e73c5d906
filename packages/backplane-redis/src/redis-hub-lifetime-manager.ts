/**
 * {@link RedisHubLifetimeManager}: the scale-out core's lifetime manager over the Redis bus, for
 * applications that wire one hub at a time (`lifetimeManagerFactory`). `redisBackplane()` is the
 * one-object way.
 * @module
 */
import { type BusFactory, ScaleoutHubLifetimeManager } from '@switchboard/server/scaleout';
import { RedisBus } from './redis-bus.js';
import type {
  RedisBusSettings,
  RedisHubLifetimeManagerOptions,
} from './redis-hub-lifetime-manager-options.js';

/**
 * A `HubLifetimeManager` across nodes on Redis (docs/scale-out.md): a thin wrapper that runs the
 * core's {@link ScaleoutHubLifetimeManager} over a {@link RedisBus}. Each channel (`all`, a group,
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
export class RedisHubLifetimeManager extends ScaleoutHubLifetimeManager {
  constructor(options: RedisHubLifetimeManagerOptions = {}) {
    super({
      ...options,
      bus: redisBusFactory(options.prefix ?? 'switchboard:', options),
    });
  }
}

/** The bus factory of the Redis backend, under a prefix (every hub's channels follow it). */
export function redisBusFactory(prefix: string, settings: RedisBusSettings): BusFactory {
  return (context) =>
    new RedisBus(
      {
        redis: settings.redis,
        prefix,
        maxLen: settings.maxLen ?? 10_000,
        maxAgeMs: settings.maxAgeMs ?? 60_000,
        maxQueuedPublishes: settings.maxQueuedPublishes ?? 10_000,
      },
      context,
    );
}
