// The shared conformance suites on NATS JetStream (the machine's nats-server): the lifetime
// manager suite on three nodes of the scale-out core over the NATS bus, and the presence store
// suite over the NATS presence backend. Each test has its own prefix and deletes its streams.
import { test } from 'node:test';
import { ScaleoutHubLifetimeManager, ScaleoutPresenceStore } from '@switchboard/server/scaleout';
import { hubLifetimeManagerSuite } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import { presenceStoreSuite } from '../../testkit/src/suites/presence-store-suite.ts';
import { safeName } from '../src/names.ts';
import { natsNode } from '../src/nats-node.ts';
import { deleteStreams, NATS_URL, natsReachable, requireNats, uniquePrefix } from './helpers.ts';

if (!(await natsReachable())) {
  // Skips loudly (fails under CI=true) instead of registering suites that cannot run.
  test('NATS for the conformance suites', async (t) => {
    await requireNats(t);
  });
} else {
  registerSuites();
}

/** Deletes the streams and bucket of a prefix (their names hold the prefix's hash). */
function cleanup(prefix: string) {
  const hubStream = safeName('sb', prefix, '/hub');
  const bucket = safeName('sbp', prefix);
  return deleteStreams(NATS_URL, (name) => name === hubStream || name === `KV_${bucket}`);
}

function registerSuites(): void {
  hubLifetimeManagerSuite(
    'ScaleoutHubLifetimeManager on NATS JetStream, 3 nodes',
    async (n) => {
      const prefix = uniquePrefix();
      const parts = Array.from({ length: n }, (_, i) =>
        natsNode({ url: NATS_URL, prefix, nodeId: `node-${i}`, storage: 'memory', onError: () => {} }),
      );
      const nodes = parts.map(
        (part, i) =>
          new ScaleoutHubLifetimeManager({
            bus: part.bus,
            nodeId: `node-${i}`,
            hubName: '/hub',
            ackTimeoutMs: 2_000,
          }),
      );
      await Promise.all(nodes.map((node) => node.ready()));
      return {
        nodes,
        settle: async () => {
          await Promise.all(nodes.map((node) => node.flush()));
          await new Promise((resolve) => setTimeout(resolve, 100));
        },
        close: async () => {
          await Promise.all(nodes.map((node) => node.close()));
          await Promise.all(parts.map((p) => p.close()));
          await cleanup(prefix);
        },
      };
    },
    { nodes: 3 },
  );

  presenceStoreSuite('ScaleoutPresenceStore on NATS key-value', async (timing) => {
    const prefix = uniquePrefix();
    const stores: ScaleoutPresenceStore[] = [];
    const parts: ReturnType<typeof natsNode>[] = [];
    return {
      async node(nodeId) {
        const part = natsNode({ url: NATS_URL, prefix, nodeId, storage: 'memory', onError: () => {} });
        parts.push(part);
        const store = new ScaleoutPresenceStore({
          backend: part.presence,
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
        await Promise.all(parts.map((p) => p.close()));
        await cleanup(prefix);
      },
    };
  });
}
