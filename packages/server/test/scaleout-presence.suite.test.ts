// The shared PresenceStore conformance suite against the scale-out presence core on the in-memory
// loopback backend (real time, as the Redis and PostgreSQL stores run it), and the core's re-assert
// after the backend lost its state.
import assert from 'node:assert/strict';
import test from 'node:test';
import { presenceStoreSuite } from '../../testkit/src/suites/presence-store-suite.ts';
import type { PresenceEvent } from '../src/presence/presence-store.ts';
import { LoopbackPresenceNetwork } from '../src/scaleout/loopback-presence.ts';
import { ScaleoutPresenceStore } from '../src/scaleout/scaleout-presence-store.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

presenceStoreSuite('ScaleoutPresenceStore on the loopback backend', async (timing) => {
  const network = new LoopbackPresenceNetwork();
  const stores: ScaleoutPresenceStore[] = [];
  return {
    async node(nodeId) {
      const store = new ScaleoutPresenceStore({
        backend: network.backend,
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
    advance: (ms) => sleep(ms),
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
});

test('after the backend lost its state, nodes re-assert their connections without announcing anyone again', async () => {
  const network = new LoopbackPresenceNetwork();
  const options = { backend: network.backend, graceMs: 100, leaseMs: 300 };
  const a = new ScaleoutPresenceStore({ ...options, nodeId: 'a' });
  const b = new ScaleoutPresenceStore({ ...options, nodeId: 'b' });
  await Promise.all([a.ready, b.ready]);
  const heard: PresenceEvent[] = [];
  b.subscribe((e) => heard.push(e));
  const base = {
    transport: 'WebSockets',
    connectedAt: 1,
    device: { type: 'desktop', browser: undefined },
  } as const;
  await a.addConnection({ ...base, connectionId: 'c1', userId: 'ada' });
  await a.addToGroup('c1', 'room');
  await sleep(20);
  assert.deepEqual(
    heard.map((e) => `${e.type}:${e.userId}`),
    ['userOnline:ada'],
  );
  network.reset();
  assert.equal(await b.isOnline('ada'), false, 'the backend forgot');
  await sleep(250); // a heartbeat of each node finds its lease gone and re-asserts
  assert.equal(await b.isOnline('ada'), true);
  assert.deepEqual(await b.groupUsers('room'), ['ada']);
  assert.deepEqual(
    heard.map((e) => `${e.type}:${e.userId}`),
    ['userOnline:ada'],
    'no second userOnline',
  );
  await Promise.all([a.close(), b.close()]);
});

test('a node whose backend is unreachable at start joins on a later heartbeat, subscriptions and all', async () => {
  const network = new LoopbackPresenceNetwork();
  const options = { backend: network.backend, graceMs: 50, leaseMs: 300, heartbeatIntervalMs: 30 };
  const errors: unknown[] = [];
  network.unavailable = true;
  const a = new ScaleoutPresenceStore({ ...options, nodeId: 'a', onError: (e) => errors.push(e) });
  await a.ready; // the join failed and was reported
  assert.ok(errors.length > 0 && a.counters.errors > 0);
  network.unavailable = false;
  const b = new ScaleoutPresenceStore({ ...options, nodeId: 'b' });
  await b.ready;
  const leased = () => network.snapshot().leases.some(([node]) => node === 'a');
  for (let i = 0; i < 200 && !leased(); i++) await sleep(10);
  assert.ok(leased(), 'node a took its lease');
  const base = {
    transport: 'WebSockets',
    connectedAt: 1,
    device: { type: 'desktop', browser: undefined },
  } as const;
  await a.addConnection({ ...base, connectionId: 'c1', userId: 'ada' });
  await a.addToGroup('c1', 'room');
  // Node b takes c1 out of the room: only a started backend hears it. Had node a not heard it, its
  // re-assert after the backend lost its state would put c1 back in the room.
  await b.removeFromGroup('c1', 'room');
  network.reset();
  for (let i = 0; i < 100 && (await b.userConnections('ada')).length === 0; i++) await sleep(10);
  assert.equal((await b.userConnections('ada')).length, 1, 'node a re-asserted c1');
  assert.equal(await b.groupConnectionCount('room'), 0, 'node a heard the remote change');
  assert.equal(a.counters.reasserts, 1, 'one re-assert, after the reset (the join was none)');
  await Promise.all([a.close(), b.close()]);
});
