// The scale-out core's own rules on the in-memory loopback bus: catch-up after an outage (nothing
// lost, nothing twice, in order), a gap beyond the replay window (counted and reported), an
// envelope of an unknown version (counted, logged, never delivered), and a send published right
// after a subscription holds (delivered even though the tail read already counts it).
import assert from 'node:assert/strict';
import test from 'node:test';
import { encode } from '@msgpack/msgpack';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import type { Bus, BusContext } from '../src/scaleout/bus.ts';
import { connectionChannel } from '../src/scaleout/channels.ts';
import type { BackplaneError } from '../src/scaleout/errors.ts';
import { LoopbackNetwork } from '../src/scaleout/loopback-bus.ts';
import { ScaleoutHubLifetimeManager } from '../src/scaleout/scaleout-hub-lifetime-manager.ts';

async function cluster(network: LoopbackNetwork, n: number, errors: BackplaneError[] = []) {
  const nodes = Array.from(
    { length: n },
    (_, i) =>
      new ScaleoutHubLifetimeManager({
        bus: network.bus,
        nodeId: `node-${i}`,
        hubName: '/hub',
        onError: (e) => errors.push(e),
      }),
  );
  await Promise.all(nodes.map((node) => node.ready()));
  return nodes;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a node cut off from the bus catches up from the log: nothing lost, nothing twice, in order', async () => {
  const network = new LoopbackNetwork();
  const [a, b] = await cluster(network, 2);
  const conn = new RecordingConnection('c1', 'u1');
  await b!.onConnected(conn);
  await b!.addToGroup('c1', 'room');
  for (let i = 0; i < 5; i++) await a!.sendGroup('room', 'm', [i]);
  await tick();
  network.disconnect('node-1');
  for (let i = 5; i < 15; i++) {
    await a!.sendGroup('room', 'm', [i]);
    await a!.sendUser('u1', 'm', [`u${i}`]);
  }
  await tick();
  assert.deepEqual(conn.tags(), [0, 1, 2, 3, 4], 'nothing arrives live while cut off');
  network.reconnect('node-1');
  await b!.ready();
  await tick();
  const tags = conn.tags();
  assert.deepEqual(
    tags.filter((t) => typeof t === 'number'),
    Array.from({ length: 15 }, (_, i) => i),
  );
  assert.deepEqual(
    tags.filter((t) => typeof t === 'string'),
    Array.from({ length: 10 }, (_, i) => `u${i + 5}`),
  );
  assert.equal(b!.counters.replayed, 20);
  assert.equal(b!.counters.lost, 0);
  await Promise.all([a!.close(), b!.close()]);
});

test('entries that left the replay window are counted as lost and reported; delivery goes on', async () => {
  const network = new LoopbackNetwork();
  const errors: BackplaneError[] = [];
  const [a, b] = await cluster(network, 2, errors);
  const conn = new RecordingConnection('c1');
  await b!.onConnected(conn);
  await a!.sendConnection('c1', 'm', [0]);
  await tick();
  network.disconnect('node-1');
  for (let i = 1; i <= 5; i++) await a!.sendConnection('c1', 'm', [i]);
  network.trim('/hub', connectionChannel('c1'), 2);
  network.reconnect('node-1');
  await b!.ready();
  await tick();
  assert.deepEqual(conn.tags(), [0, 4, 5]);
  assert.equal(b!.counters.lost, 1);
  const gap = errors.find((e) => e.code === 'SB_ERR_BACKPLANE_REPLAY_GAP');
  assert.ok(gap, 'a replay gap is reported');
  assert.match(gap.message, /^Loopback: connection:c1: /);
  await Promise.all([a!.close(), b!.close()]);
});

test('an envelope of an unknown version is counted and logged, never delivered', async () => {
  const network = new LoopbackNetwork();
  const errors: BackplaneError[] = [];
  const logged: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const logger = {
    debug() {},
    info() {},
    warn(event: string, fields: Record<string, unknown>) {
      logged.push({ level: 'warn', event, fields });
    },
    error(event: string, fields: Record<string, unknown>) {
      logged.push({ level: 'error', event, fields });
    },
  };
  let sender: Bus | undefined;
  const capture = (context: BusContext) => {
    sender = network.bus(context);
    return sender;
  };
  const a = new ScaleoutHubLifetimeManager({ bus: capture, nodeId: 'a', hubName: '/hub' });
  const b = new ScaleoutHubLifetimeManager({
    bus: network.bus,
    nodeId: 'b',
    hubName: '/hub',
    onError: (e) => errors.push(e),
    logger,
  });
  await Promise.all([a.ready(), b.ready()]);
  const conn = new RecordingConnection('c1');
  await b.onConnected(conn);
  // A newer node's envelope: version 2, otherwise well formed.
  const future = encode({ v: 2, o: 'a', n: 1, k: 'm', t: 'm', f: { json: Buffer.from('garbage') } });
  await sender!.publish(connectionChannel('c1'), future);
  await sender!.publish(connectionChannel('c1'), Buffer.from('not msgpack at all'));
  await a.sendConnection('c1', 'm', ['after']);
  await tick();
  assert.deepEqual(conn.tags(), ['after'], 'only the envelope of the known version is delivered');
  assert.equal(b.counters.unknownVersions, 2);
  assert.deepEqual(
    errors.map((e) => e.code),
    ['SB_ERR_BACKPLANE_ENVELOPE_VERSION', 'SB_ERR_BACKPLANE_ENVELOPE_VERSION'],
  );
  assert.match(errors[0]!.message, /envelope version 2 is not 1/);
  assert.equal(logged[0]?.level, 'error');
  assert.equal(logged[0]?.fields.code, 'SB_ERR_BACKPLANE_ENVELOPE_VERSION');
  await Promise.all([a.close(), b.close()]);
});

test('a send published while the tail is read after subscribing is delivered, not taken for old', async () => {
  const network = new LoopbackNetwork();
  const [a] = await cluster(network, 1);
  // Node b's log reads wait until node a has sent: the send arrives live before the tail is known.
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slowTail = (context: BusContext): Bus => {
    const bus = network.bus(context);
    const log = bus.log!;
    return Object.assign(Object.create(bus) as Bus, {
      log: {
        ...log,
        compare: log.compare,
        tail: async (channel: Parameters<typeof log.tail>[0]) => {
          if (channel.kind === 'connection') await gate;
          return log.tail(channel);
        },
      },
    });
  };
  const b = new ScaleoutHubLifetimeManager({ bus: slowTail, nodeId: 'b', hubName: '/hub' });
  await b.ready();
  const conn = new RecordingConnection('c1');
  const connected = b.onConnected(conn);
  await tick();
  await a!.sendConnection('c1', 'm', ['early']);
  await tick();
  release();
  await connected;
  await tick();
  assert.deepEqual(conn.tags(), ['early']);
  await Promise.all([a!.close(), b.close()]);
});
