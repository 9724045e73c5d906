// The shared HubLifetimeManager conformance suite against the scale-out core on the in-memory
// loopback bus, three nodes: once with a replay log per channel (the core's position, gap and
// catch-up rules run) and once without (the bus's own order).
import { hubLifetimeManagerSuite } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { LoopbackNetwork } from '../src/scaleout/loopback-bus.ts';
import { ScaleoutHubLifetimeManager } from '../src/scaleout/scaleout-hub-lifetime-manager.ts';

for (const log of [true, false]) {
  hubLifetimeManagerSuite(
    `ScaleoutHubLifetimeManager on LoopbackBus, 3 nodes, ${log ? 'with' : 'without'} a replay log`,
    async (n) => {
      const network = new LoopbackNetwork({ log });
      const nodes = Array.from(
        { length: n },
        (_, i) =>
          new ScaleoutHubLifetimeManager({
            bus: network.bus,
            nodeId: `node-${i}`,
            hubName: '/hub',
            ackTimeoutMs: 500,
          }),
      );
      await Promise.all(nodes.map((node) => node.ready()));
      return {
        nodes,
        settle: async () => {
          for (let i = 0; i < 3; i++) await Promise.all(nodes.map((node) => node.flush()));
        },
        close: async () => {
          await Promise.all(nodes.map((node) => node.close()));
        },
      };
    },
    { nodes: 3 },
  );
}
