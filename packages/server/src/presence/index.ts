/**
 * Presence: which users are online, on which nodes and devices, and who is in which group, with
 * `userOnline` / `userOffline` events (issue #4). The package entry re-exports this module.
 * @module
 */
export {
  DefaultPresenceStore,
  type DefaultPresenceStoreOptions,
  InMemoryPresenceCluster,
  type InMemoryPresenceOptions,
  presenceDefaults,
} from './default-presence-store.js';
export { type HubPresence, scopedGroup } from './hub-presence.js';
export type {
  DeviceHint,
  DeviceType,
  NewPresenceConnection,
  PresenceConnection,
  PresenceEvent,
  PresenceListener,
  PresenceStore,
} from './presence-store.js';
export { parseUserAgent } from './user-agent.js';
