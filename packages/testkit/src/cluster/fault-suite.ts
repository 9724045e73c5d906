/**
 * The fault suite: three conformance server processes behind haproxy, a client on every node
 * sending numbered messages to a group all of them are in, while the backplane restarts, one
 * node's backplane connection is held down, or a node is killed with SIGKILL. Every receiver
 * checks per sender: nothing missing within the window, nothing twice, in order.
 * @module
 */
import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { type ClientOptions, waitFor } from '../clients.js';
import { type Cluster, type ClusterClient, nodeOf, startCluster } from './cluster.js';
import type { BackplaneFault } from './faults.js';
import { HAPROXY_SERVERS } from './haproxy.js';
import type { ClusterBackplaneSetup } from './lb-suite.js';
import { NumberedReceiver, NumberedSender, numberedProblems, type SentRecord } from './numbered.js';
import { HAPROXY_PATH, requireBinary, sleep } from './processes.js';

/** Transports of the parties, in turn (all negotiate, so stickiness matters for each). */
const TRANSPORTS: readonly ClientOptions[] = [
  { transport: HttpTransportType.WebSockets },
  { transport: HttpTransportType.ServerSentEvents },
  { transport: HttpTransportType.LongPolling },
];

/** A client that is in group `g`, sends numbered messages to it and records what it gets. */
interface Party {
  readonly label: string;
  readonly connection: HubConnection;
  readonly receiver: NumberedReceiver;
  /** The node it is on now. */
  node: string;
  /** When it (re)joined the group last (ms since the epoch). */
  joinedAt: number;
  /** How many times it reconnected. */
  reconnects: number;
  sender?: NumberedSender;
}

async function party(
  cluster: Cluster,
  label: string,
  node: string,
  index: number,
  reconnect: boolean,
): Promise<Party> {
  const client = await cluster.connect('/testhub', {
    ...TRANSPORTS[index % TRANSPORTS.length]!,
    node,
    user: label,
    ...(reconnect ? { automaticReconnect: [0, 200, 500, 1_000, 1_000, 1_000, 1_000, 2_000, 2_000] } : {}),
  });
  const p: Party = {
    label,
    connection: client.connection,
    receiver: new NumberedReceiver(label),
    node: client.node,
    joinedAt: 0,
    reconnects: 0,
  };
  client.connection.on('Send', (x: unknown) => p.receiver.record(x));
  client.connection.onreconnected(() => {
    // A reconnect is a new connection: it joins the group again. (A failure leaves `reconnects`
    // as it was, which the test reports as a client that did not come back.)
    (async () => {
      await client.connection.invoke('JoinGroup', 'g');
      p.joinedAt = Date.now();
      p.node = await nodeOf(client.connection);
      p.reconnects++;
    })().catch(() => undefined);
  });
  await client.connection.invoke('JoinGroup', 'g');
  p.joinedAt = Date.now();
  return p;
}

/** Two parties per node, each sending `SendToGroup('g', numbered)`. */
async function startParties(cluster: Cluster, reconnect: boolean, perNode = 2): Promise<Party[]> {
  const parties: Party[] = [];
  for (let k = 0; k < perNode; k++) {
    for (const [i, node] of HAPROXY_SERVERS.entries()) {
      parties.push(await party(cluster, `${node}-${k}`, node, i + k, reconnect));
    }
  }
  for (const p of parties) {
    p.sender = new NumberedSender(
      p.label,
      () => p.connection,
      'SendToGroup',
      (m) => ['g', m],
      40,
    );
  }
  return parties;
}

/** Waits (bounded) until every receiver has every message `mustHave` names, then checks all. */
async function checkNumbered(
  parties: readonly Party[],
  records: readonly SentRecord[],
  mustHave: (receiver: Party, sent: SentRecord, n: number) => boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const complete = () =>
    parties.every((r) =>
      records.every((s) => s.completed.every((n) => !mustHave(r, s, n) || r.receiver.has(s.sender, n))),
    );
  await waitFor(complete, timeoutMs, 'every message that must arrive').catch(() => undefined);
  await sleep(300); // a late second copy would show now
  const problems = parties.flatMap((r) =>
    records.flatMap((s) => numberedProblems(r.receiver, s, (n) => mustHave(r, s, n))),
  );
  assert.deepEqual(problems, [], 'per sender: nothing missing, nothing twice, in order');
}

/** Registers the backplane fault tests for one backplane, one per fault. */
export function backplaneFaultSuite(
  setup: ClusterBackplaneSetup & {
    faults: readonly { name: string; start: () => Promise<BackplaneFault> }[];
  },
  options: { downMs?: number; leaseMs?: number } = {},
): void {
  const downMs = options.downMs ?? 1_500;
  const ready = async (t: TestContext) =>
    (await requireBinary(t, 'haproxy', HAPROXY_PATH)) && (await setup.require(t));

  for (const { name, start } of setup.faults) {
    test(`${setup.name}: ${name} while three nodes send numbered messages`, async (t) => {
      if (!(await ready(t))) return;
      const fault = await start();
      let cluster: Cluster | undefined;
      try {
        cluster = await startCluster({
          backplane: fault.spec(0),
          nodeBackplane: (i) => fault.spec(i),
          leaseMs: options.leaseMs ?? 5_000,
          presenceGraceMs: 1_000,
        });
        fault.bind?.(cluster.nodes.map((n) => n.nodeId));
        const parties = await startParties(cluster, false);
        await sleep(1_000);
        const atBegin = parties.map((p) => p.receiver.snapshot());
        const beganAt = Date.now();
        await fault.begin();
        await sleep(downMs);
        await fault.end();
        await sleep(2_000);
        const records = await Promise.all(parties.map((p) => p.sender!.stop()));
        // With a restart that empties the logs, only what a receiver had not received when the
        // backplane stopped, and was sent before that, may be lost. Otherwise nothing.
        const mayMiss = (r: Party, s: SentRecord, n: number) =>
          fault.mayLoseInFlight &&
          (s.startedAt.get(n) ?? 0) < beganAt &&
          !(atBegin[parties.indexOf(r)]?.get(s.sender)?.has(n) ?? false);
        await checkNumbered(parties, records, (r, s, n) => !mayMiss(r, s, n));
        const lost = parties.map(
          (r) =>
            `${r.label}:${records.reduce((sum, s) => sum + s.completed.filter((n) => mayMiss(r, s, n) && !r.receiver.has(s.sender, n)).length, 0)}`,
        );
        const sent = records.reduce((sum, r) => sum + r.completed.length, 0);
        t.diagnostic(
          `${sent} messages sent, ${records.reduce((s, r) => s + r.failed.length, 0)} invocations failed; lost in flight at the fault per receiver: ${lost.join(' ')}`,
        );
        assert.ok(
          records.every((r) => r.failed.length === 0),
          'no invocation fails while the backplane is away',
        );
      } finally {
        await cluster?.close();
        await fault.dispose();
        if (cluster) await setup.cleanup?.(cluster.prefix);
      }
    });
  }
}

/**
 * Registers the node-kill test for one backplane: a node is killed with SIGKILL while every node
 * sends numbered messages; its connections leave presence within the lease, and its clients
 * reconnect through haproxy to a live node and go on.
 */
export function nodeKillSuite(setup: ClusterBackplaneSetup): void {
  const ready = async (t: TestContext) =>
    (await requireBinary(t, 'haproxy', HAPROXY_PATH)) && (await setup.require(t));

  test(`${setup.name}: a node killed with SIGKILL while three nodes send: its connections leave presence within the lease, its clients reconnect through haproxy to a live node and go on`, async (t) => {
    if (!(await ready(t))) return;
    const leaseMs = 2_000;
    const graceMs = 500;
    const cluster = await startCluster({ backplane: setup.spec(), leaseMs, presenceGraceMs: graceMs });
    try {
      const parties = await startParties(cluster, true);
      // Anonymous watchers on the nodes that survive, and a user only on the doomed node who
      // does not reconnect.
      const watchers: (ClusterClient & { events: string[] })[] = [];
      for (const node of ['node1', 'node3']) {
        const w = await cluster.connect('/testhub', { node, transport: HttpTransportType.WebSockets });
        const events: string[] = [];
        w.connection.on('Presence', (u: string, online: boolean) => events.push(`${u}:${online}`));
        watchers.push({ ...w, events });
      }
      await cluster.connect('/testhub', {
        node: 'node2',
        user: 'gone',
        transport: HttpTransportType.WebSockets,
      });
      await sleep(1_000);

      const atKill = parties.map((p) => p.receiver.snapshot());
      const moved = parties.filter((p) => p.node === 'node2');
      const killedAt = Date.now();
      const eventsAtKill = watchers.map((w) => w.events.length);
      await cluster.nodes[1]!.kill();

      await waitFor(
        () => moved.every((p) => p.reconnects >= 1 && p.connection.state === 'Connected'),
        20_000,
        "node2's clients reconnected",
      );
      assert.deepEqual(
        moved.map((p) => p.node).filter((n) => n === 'node2'),
        [],
        'reconnected to a live node',
      );

      // Presence: the dead node's connections are swept (each moved user has only its new
      // connection), and 'gone' goes offline, within the lease plus a heartbeat plus the grace.
      const bound = leaseMs + Math.ceil(leaseMs / 3) + graceMs + 5_000;
      const asker = watchers[0]!.connection;
      const deadline = Date.now() + bound;
      for (;;) {
        const counts = await Promise.all(
          moved.map((p) => asker.invoke<number>('GetUserConnectionCount', p.label)),
        );
        const online = await asker.invoke<string[]>('GetOnlineUsers');
        if (counts.every((c) => c === 1) && !online.includes('gone')) break;
        if (Date.now() > deadline) {
          assert.fail(
            `after ${bound} ms: connections ${counts.join(',')} (want 1 each), online ${online.join(',')}`,
          );
        }
        await sleep(100);
      }
      await waitFor(
        () => watchers.every((w, i) => w.events.slice(eventsAtKill[i]).includes('gone:false')),
        5_000,
        'gone offline on every node',
      );

      await sleep(1_500); // the moved clients go on sending and receiving
      const records = await Promise.all(parties.map((p) => p.sender!.stop()));
      const movedLabels = new Set(moved.map((p) => p.label));
      await checkNumbered(parties, records, (r, s, n) => {
        const started = s.startedAt.get(n) ?? 0;
        // A receiver on the dead node gets nothing while it reconnects: it must have what was
        // sent after it joined the group again.
        if (movedLabels.has(r.label) && started < r.joinedAt) return false;
        // A sender on the dead node: what it sent before the kill and this receiver had not yet
        // received may have died with the node.
        const had = atKill[parties.indexOf(r)]?.get(s.sender)?.has(n) ?? false;
        if (movedLabels.has(s.sender) && started < killedAt && !had) return false;
        return true;
      });
      for (const p of moved)
        assert.ok(
          p.receiver
            .from(p.label)
            .some((n) => (records.find((r) => r.sender === p.label)?.startedAt.get(n) ?? 0) > p.joinedAt),
          `${p.label} receives its own messages after reconnecting`,
        );
      await sleep(graceMs); // a wrong offline event for a moved user would be out by now
      // After the kill, per watcher: 'gone' offline once. A moved user whose new connection was
      // in presence before the dead node could be swept and its grace run out (at the earliest
      // two thirds of a lease after the kill: the last renewal was at most a heartbeat before)
      // must not go offline at all; one that came back later goes offline and online again, once
      // each, in that order.
      const earliestOffline = killedAt + Math.floor((leaseMs * 2) / 3) + graceMs;
      for (const [i, w] of watchers.entries()) {
        const afterKill = w.events.slice(eventsAtKill[i]);
        assert.deepEqual(
          afterKill.filter((e) => e.startsWith('gone:')),
          ['gone:false'],
          `${w.node}: 'gone' offline once`,
        );
        for (const p of moved) {
          const own = afterKill.filter((e) => e.startsWith(`${p.label}:`));
          const expected = p.joinedAt < earliestOffline ? [] : [`${p.label}:false`, `${p.label}:true`];
          if (p.joinedAt >= earliestOffline && own.length === 0) continue; // back before the sweep after all
          assert.deepEqual(
            own,
            expected,
            `${w.node}: ${p.label} (back ${p.joinedAt - killedAt} ms after the kill)`,
          );
        }
        assert.equal(
          afterKill.filter((e) => !/^(gone|node2-\d+):/.test(e)).length,
          0,
          `${w.node}: no event for users on live nodes: ${afterKill.join(' ')}`,
        );
      }
      t.diagnostic(
        `moved: ${moved.map((p) => `${p.label}->${p.node} (back after ${p.joinedAt - killedAt} ms)`).join(' ')}; sent ${records.reduce((sum, r) => sum + r.completed.length, 0)}, failed during the reconnect ${records.reduce((sum, r) => sum + r.failed.length, 0)}`,
      );
    } finally {
      await cluster.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });
}
