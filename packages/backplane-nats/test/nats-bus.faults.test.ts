// Faults under the NATS bus, on a nats-server of the test's own (JetStream, a file store under the
// temp folder, a free loopback port): a restart while three nodes send numbered messages, and one
// node's connection cut and held down. Within the replay window nothing is lost, nothing arrives
// twice, and every sender's messages arrive in order, at every node.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { groupChannel } from '@switchboard/server/scaleout';
import { FaultProxy } from '../../testkit/src/cluster/fault-proxy.ts';
import { NATS_SERVER_PATH, OwnNats } from '../../testkit/src/cluster/own-nats.ts';
import { requireService } from '../../testkit/src/services.ts';
import { NatsLink } from '../src/link.ts';
import { NatsBus } from '../src/nats-bus.ts';
import { RecordingReceiver, sleep, uniquePrefix, until } from './helpers.ts';

const servers = new Set<OwnNats>();
after(async () => {
  for (const s of servers) await s.dispose();
});

const G = groupChannel('g');

function startNodes(urls: readonly string[], prefix: string) {
  return urls.map((url, i) => {
    const receiver = new RecordingReceiver();
    const link = new NatsLink({ servers: url, name: `n${i}`, onError: (e) => receiver.error(e) });
    const bus = new NatsBus(
      link,
      { hubName: '/hub', nodeId: `n${i}`, receiver },
      { prefix, maxLen: 10_000, maxAgeMs: 120_000, maxQueuedPublishes: 10_000, storage: 'file' },
    );
    return { receiver, bus, link };
  });
}

type Node = ReturnType<typeof startNodes>[number];

/** Every node sends `${node}:${i}` to the group every few ms until `stop` is set. */
function sendNumbered(nodes: readonly Node[], state: { stop: boolean; sent: number[] }) {
  return Promise.all(
    nodes.map(async (n, k) => {
      while (!state.stop) {
        const i = state.sent[k]!;
        state.sent[k] = i + 1;
        void n.bus.publish(G, Buffer.from(`n${k}:${i}`));
        await sleep(5);
      }
    }),
  );
}

/** Per receiver and sender: every number 0..sent-1 once, in order. */
function checkNumbered(nodes: readonly Node[], sent: readonly number[]): void {
  for (const [r, node] of nodes.entries()) {
    for (const [k, count] of sent.entries()) {
      const got = node.receiver
        .payloads()
        .filter((p) => p.startsWith(`n${k}:`))
        .map((p) => Number(p.slice(p.indexOf(':') + 1)));
      const expected = Array.from({ length: count }, (_, i) => i);
      const dups = got.length - new Set(got).size;
      const missing = expected.filter((i) => !got.includes(i));
      const inversions = got.filter((v, i) => i > 0 && v < got[i - 1]!).length;
      assert.deepEqual(
        { dups, missing, inversions },
        { dups: 0, missing: [], inversions: 0 },
        `node n${r} from n${k}`,
      );
      assert.deepEqual(got, expected, `node n${r} from n${k}: all of 0..${count - 1}, once, in order`);
    }
  }
}

async function run(nodes: readonly Node[], fault: () => Promise<void>): Promise<number[]> {
  await Promise.all(nodes.map((n) => n.bus.ready(10_000)));
  for (const n of nodes) await n.bus.subscribe(G);
  const state = { stop: false, sent: nodes.map(() => 0) };
  const sending = sendNumbered(nodes, state);
  await sleep(500);
  await fault();
  await sleep(1_000);
  state.stop = true;
  await sending;
  await Promise.all(nodes.map((n) => n.bus.flush()));
  const total = state.sent.reduce((a, b) => a + b, 0);
  await until(
    () => nodes.every((n) => n.receiver.messages.length >= total),
    'every node to receive every message',
    20_000,
  ).catch(() => undefined);
  await sleep(300);
  return state.sent;
}

test('NATS bus: nats-server restarted (SIGTERM, 1 s down, start) while three nodes send: nothing lost, nothing twice, in order', async (t) => {
  if (!(await requireService(t, { kind: 'file', name: 'nats-server', path: NATS_SERVER_PATH }))) return;
  const server = await OwnNats.start();
  servers.add(server);
  const nodes = startNodes([server.url, server.url, server.url], uniquePrefix());
  try {
    const sent = await run(nodes, async () => {
      await server.stop('SIGTERM');
      await until(() => nodes.every((n) => !n.link.connected), 'every node to see NATS gone');
      await sleep(1_000);
      await server.start();
      await until(() => nodes.every((n) => n.link.connected), 'every node to reconnect', 15_000);
    });
    checkNumbered(nodes, sent);
    const queued = nodes.map((n) => n.bus.counters.queued);
    t.diagnostic(`sent ${sent.join('+')}; queued while down ${queued.join(',')}`);
    assert.ok(
      queued.every((q) => q > 0),
      'every node queued sends while NATS was down',
    );
    assert.ok(nodes.every((n) => n.bus.counters.reconnects >= 1));
    assert.deepEqual(
      nodes.flatMap((n) => n.receiver.losses),
      [],
    );
    assert.deepEqual(
      nodes.flatMap((n) => n.receiver.errors.filter((e) => e.lossy)),
      [],
      'no loss reported',
    );
  } finally {
    await Promise.all(nodes.map((n) => n.bus.close().then(() => n.link.close())));
  }
});

test("NATS bus: one node's connection cut and held down for 1.5 s while three nodes send: nothing lost, nothing twice, in order", async (t) => {
  if (!(await requireService(t, { kind: 'file', name: 'nats-server', path: NATS_SERVER_PATH }))) return;
  const server = await OwnNats.start();
  servers.add(server);
  const proxy = await FaultProxy.start(server.port);
  const nodes = startNodes([`nats://127.0.0.1:${proxy.port}`, server.url, server.url], uniquePrefix());
  try {
    const sent = await run(nodes, async () => {
      proxy.refuse();
      await until(() => !nodes[0]!.link.connected, 'n0 to see NATS gone');
      await sleep(1_500);
      proxy.release();
      await until(() => nodes[0]!.link.connected, 'n0 to reconnect', 15_000);
    });
    checkNumbered(nodes, sent);
    assert.ok(nodes[0]!.bus.counters.queued > 0, 'n0 queued its sends while cut off');
    assert.ok(nodes[0]!.bus.counters.reconnects >= 1);
    // What the others sent while n0 was cut off reached it by its catch-up, counted as replayed.
    assert.ok(nodes[0]!.bus.counters.replayed > 0, `n0 replayed ${nodes[0]!.bus.counters.replayed}`);
    assert.equal(nodes[1]!.bus.counters.replayed, 0, 'a node never cut off replays nothing');
    assert.deepEqual(
      nodes.flatMap((n) => n.receiver.losses),
      [],
    );
  } finally {
    await Promise.all(nodes.map((n) => n.bus.close().then(() => n.link.close())));
    await proxy.close();
  }
});

test('NATS bus: entries that left the window while a node was away are counted as lost, exactly', async (t) => {
  if (!(await requireService(t, { kind: 'file', name: 'nats-server', path: NATS_SERVER_PATH }))) return;
  const server = await OwnNats.start();
  servers.add(server);
  const proxy = await FaultProxy.start(server.port);
  const prefix = uniquePrefix();
  const receiver = new RecordingReceiver();
  const links = [
    new NatsLink({ servers: `nats://127.0.0.1:${proxy.port}`, name: 'away', onError: () => {} }),
    new NatsLink({ servers: server.url, name: 'sender', onError: () => {} }),
  ];
  const options = { prefix, maxLen: 5, maxAgeMs: 60_000, maxQueuedPublishes: 100, storage: 'file' as const };
  const away = new NatsBus(links[0]!, { hubName: '/hub', nodeId: 'away', receiver }, options);
  const sender = new NatsBus(
    links[1]!,
    { hubName: '/hub', nodeId: 'sender', receiver: new RecordingReceiver() },
    options,
  );
  try {
    await Promise.all([away.ready(5_000), sender.ready(5_000)]);
    await away.subscribe(G);
    await sender.publish(G, Buffer.from('0'));
    await until(() => receiver.messages.length === 1, 'the first message');
    proxy.refuse();
    await until(() => !links[0]!.connected, 'the node to be cut off');
    for (let i = 1; i <= 12; i++) await sender.publish(G, Buffer.from(String(i)));
    proxy.release();
    await until(() => receiver.messages.length >= 6, 'the catch-up', 15_000);
    // The bus counts the catch-up once its recovery has read the stream's head, which can come
    // after the entries themselves (a recovery that fails under load is tried again 250 ms later).
    await until(() => away.counters.replayed >= 5, 'the catch-up to be counted', 15_000);
    await sleep(200); // nothing more arrives, and nothing is counted twice
    // The window keeps 5 per channel: 8..12 arrive, 1..7 were lost and counted.
    assert.deepEqual(receiver.payloads(), ['0', '8', '9', '10', '11', '12']);
    assert.deepEqual(
      receiver.losses.map((l) => l.count),
      [7],
    );
    assert.equal(away.counters.replayed, 5, 'the five the window kept came by the catch-up');
  } finally {
    await away.close();
    await sender.close();
    for (const l of links) await l.close();
    await proxy.close();
  }
});
