// The shared HubLifetimeManager and PresenceStore conformance suites on the in-box bus: the broker
// runs in a real child process (as in a cluster's primary) and every node's bus and presence
// backend reach it over that process's IPC channel, so every send, group change, client result,
// close and presence answer crosses a process boundary.
import { after, before } from 'node:test';
import { hubLifetimeManagerSuite } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { presenceStoreSuite } from '../../testkit/src/suites/presence-store-suite.ts';
import { inboxNode } from '../src/scaleout/inbox-bus.ts';
import { ScaleoutHubLifetimeManager } from '../src/scaleout/scaleout-hub-lifetime-manager.ts';
import { ScaleoutPresenceStore } from '../src/scaleout/scaleout-presence-store.ts';
import { BrokerProcess } from './inbox-broker-process.ts';

let broker: BrokerProcess;
before(async () => {
  broker = await BrokerProcess.start();
});
after(async () => {
  await broker.stop();
});

hubLifetimeManagerSuite(
  'ScaleoutHubLifetimeManager on the in-box bus (broker in another process), 3 nodes',
  async (n) => {
    await broker.reset();
    const node = inboxNode(broker.port);
    const nodes = Array.from(
      { length: n },
      (_, i) =>
        new ScaleoutHubLifetimeManager({
          bus: node.bus,
          nodeId: `node-${i}`,
          hubName: '/hub',
          ackTimeoutMs: 1_000,
        }),
    );
    await Promise.all(nodes.map((m) => m.ready()));
    return {
      nodes,
      settle: async () => {
        for (let i = 0; i < 3; i++) await Promise.all(nodes.map((m) => m.flush()));
      },
      close: async () => {
        await Promise.all(nodes.map((m) => m.close()));
      },
    };
  },
  { nodes: 3 },
);

presenceStoreSuite('ScaleoutPresenceStore on the in-box bus (broker in another process)', async (timing) => {
  await broker.reset();
  const node = inboxNode(broker.port);
  const stores: ScaleoutPresenceStore[] = [];
  return {
    async node(nodeId) {
      const store = new ScaleoutPresenceStore({
        backend: node.presence,
        nodeId,
        ...timing,
        onError: (error, event) => {
          if (!event) throw error; // the suite's throwing listener is expected; nothing else is
        },
      });
      stores.push(store);
      await store.ready;
      return store;
    },
    crash: async (store) => (store as ScaleoutPresenceStore).destroyWithoutCleanup(),
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
});
