// The shared HubLifetimeManager conformance suite against the in-memory default: one node, since
// instances share nothing (the cross-node cases show as skipped).
import { hubLifetimeManagerSuite } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { DefaultHubLifetimeManager } from '../src/lifetime/default-hub-lifetime-manager.ts';

hubLifetimeManagerSuite('DefaultHubLifetimeManager', async () => ({
  nodes: [new DefaultHubLifetimeManager()],
  settle: async () => {},
  close: async () => {},
}));
