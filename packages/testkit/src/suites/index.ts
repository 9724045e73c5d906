/**
 * The shared conformance suites: every HubLifetimeManager and every PresenceStore runs the same
 * tests, with a factory that builds it on a fresh backend.
 * @module
 */
export {
  type HubLifetimeManagerFactory,
  type HubLifetimeManagerSuiteOptions,
  type HubLifetimeManagerTestBackend,
  hubLifetimeManagerSuite,
  RecordingConnection,
} from './hub-lifetime-manager-suite.js';
export {
  type PresenceStoreFactory,
  type PresenceStoreSuiteOptions,
  type PresenceSuiteTiming,
  type PresenceTestBackend,
  presenceStoreSuite,
} from './presence-store-suite.js';
