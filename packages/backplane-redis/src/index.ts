/**
 * @switchboard/backplane-redis: Switchboard scale-out on Redis. {@link RedisHubLifetimeManager}
 * routes sends, groups, users, client results and closes across nodes (docs/scale-out.md).
 *
 * @example
 * ```ts
 * import { HubServer } from '@switchboard/server';
 * import { RedisHubLifetimeManager } from '@switchboard/backplane-redis';
 *
 * const hubs = new HubServer({
 *   lifetimeManagerFactory: (path) => new RedisHubLifetimeManager({ redis: process.env.REDIS_URL, hubName: path }),
 * });
 * ```
 * @module
 */
export { BackplaneError, type BackplaneRedisErrorCode, backplaneRedisErrors } from './errors.js';
// presence (RedisPresenceStore, src/presence/)
export { RedisPresenceStore, type RedisPresenceStoreOptions } from './presence/redis-presence-store.js';
export type { BusCounters } from './redis-bus.js';
export { RedisHubLifetimeManager } from './redis-hub-lifetime-manager.js';
export type {
  RedisBackplaneCounters,
  RedisHubLifetimeManagerOptions,
} from './redis-hub-lifetime-manager-options.js';
