/**
 * @switchboard/backplane-redis: Switchboard scale-out on Redis, a thin adapter of the core in
 * `@switchboard/server/scaleout` (docs/scale-out.md): {@link redisBackplane} for
 * `new HubServer({ backplane })`; {@link RedisHubLifetimeManager} and {@link RedisPresenceStore}
 * for applications that wire them one by one.
 *
 * @example
 * ```ts
 * import { HubServer } from '@switchboard/server';
 * import { redisBackplane } from '@switchboard/backplane-redis';
 *
 * const hubs = new HubServer({ backplane: redisBackplane({ url: process.env.REDIS_URL, nodeId: 'a' }) });
 * ```
 * @module
 */
export { BackplaneError } from '@switchboard/server';
/** The bus's own counters (kept for the name this package exported before the core). */
export type { BusCounters } from '@switchboard/server/scaleout';
export { RedisPresenceBackend, type RedisPresenceBackendOptions } from './presence/redis-presence-backend.js';
export { RedisPresenceStore, type RedisPresenceStoreOptions } from './presence/redis-presence-store.js';
export { type RedisBackplaneOptions, redisBackplane } from './redis-backplane.js';
export { RedisBus, type RedisBusOptions } from './redis-bus.js';
export {
  type RedisBackplaneCounters,
  type RedisBusSettings,
  RedisHubLifetimeManager,
  type RedisHubLifetimeManagerOptions,
  redisBusFactory,
} from './redis-hub-lifetime-manager.js';
export { RedisUserGroupStore, type RedisUserGroupStoreOptions } from './redis-user-group-store.js';
