/**
 * The load-balancer suite: three conformance server processes on one backplane behind haproxy
 * (`deploy/haproxy/switchboard.cfg`), the official client spread across them over every
 * transport. Run once per backplane (`conformance/test/cluster-lb-<backplane>.test.ts`).
 * @module
 */
import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import type { ClientOptions } from '../clients.js';
import { waitFor } from '../clients.js';
import { type Cluster, type ClusterClient, startCluster } from './cluster.js';
import { HAPROXY_SERVERS } from './haproxy.js';
import type { BackplaneSpec } from './node-process.js';
import { HAPROXY_PATH, requireBinary, sleep } from './processes.js';

/** How a suite gets its backplane. */
export interface ClusterBackplaneSetup {
  /** Shown in test names (`Redis`, `PostgreSQL`). */
  readonly name: string;
  /** Skips (or fails under CI=true) when the backplane is not available; true to go on. */
  require(t: TestContext): Promise<boolean>;
  /** The backplane the nodes join. */
  spec(): BackplaneSpec;
  /** Deletes what a cluster with this prefix left in the backplane. */
  cleanup?(prefix: string): Promise<void>;
}

/** The transports clients use, in turn: WebSockets without and with negotiate, SSE, long polling. */
const TRANSPORTS: readonly { name: string; options: ClientOptions }[] = [
  {
    name: 'WebSockets (skipNegotiation)',
    options: { transport: HttpTransportType.WebSockets, skipNegotiation: true },
  },
  { name: 'WebSockets', options: { transport: HttpTransportType.WebSockets } },
  { name: 'ServerSentEvents', options: { transport: HttpTransportType.ServerSentEvents } },
  { name: 'LongPolling', options: { transport: HttpTransportType.LongPolling } },
];

/** A client with what it received (`Send` and `Presence`). */
export interface Member extends ClusterClient {
  readonly label: string;
  readonly sends: unknown[];
  readonly presence: string[];
}

async function member(
  cluster: Cluster,
  label: string,
  index: number,
  user?: string,
  node?: string,
): Promise<Member> {
  const transport = TRANSPORTS[index % TRANSPORTS.length]!;
  const client = await cluster.connect('/testhub', {
    ...transport.options,
    ...(user ? { user } : {}),
    ...(node ? { node } : {}),
  });
  const sends: unknown[] = [];
  const presence: string[] = [];
  client.connection.on('Send', (x: unknown) => sends.push(x));
  client.connection.on('Presence', (u: string, online: boolean) => presence.push(`${u}:${online}`));
  client.connection.on('Result', () => 10);
  return {
    ...client,
    label: `${label}(${transport.name}@${client.node})`,

    sends,
    presence,
  };
}

/** Asks every one of `askers` (one per node) and waits until all answer `expected`. */
export async function agreeOnEveryNode(
  askers: readonly Member[],
  method: string,
  args: unknown[],
  expected: unknown,
): Promise<void> {
  let answers: unknown[] = [];
  const deadline = Date.now() + 5_000;
  for (;;) {
    answers = await Promise.all(askers.map((m) => m.connection.invoke(method, ...args)));
    if (answers.every((a) => JSON.stringify(a) === JSON.stringify(expected))) return;
    if (Date.now() > deadline) {
      assert.fail(
        `${method}(${args.join(',')}) after 5 s: ${askers.map((m, i) => `${m.node}=${JSON.stringify(answers[i])}`).join(' ')}, expected ${JSON.stringify(expected)}`,
      );
    }
    await sleep(50);
  }
}

/** Every member receives exactly `expected[label]` (in any order across senders), nothing more. */
export async function expectDeliveries(
  members: readonly Member[],
  tag: string,
  recipients: readonly Member[],
  before: Map<Member, number>,
): Promise<void> {
  const got = (m: Member) => m.sends.slice(before.get(m) ?? 0).filter((x) => x === tag).length;
  await waitFor(
    () => recipients.every((m) => got(m) >= 1),
    5_000,
    `'${tag}' at ${recipients.map((m) => m.label).join(', ')}`,
  );
  // Then a little longer, so that a copy to a wrong member or a second copy would show.
  await sleep(150);
  const wrong = members
    .map((m) => ({ m, n: got(m), want: recipients.includes(m) ? 1 : 0 }))
    .filter(({ n, want }) => n !== want)
    .map(({ m, n, want }) => `${m.label}: ${n} (want ${want})`);
  assert.deepEqual(wrong, [], `'${tag}'`);
}

/**
 * Registers the load-balancer tests for one backplane, behind the sticky haproxy configuration
 * (default) or the round-robin one (`balancer: 'roundrobin'`: no cookie, each request to the next
 * node, forwarded to the connection's owner).
 */
export function loadBalancerSuite(
  setup: ClusterBackplaneSetup,
  options: { balancer?: 'sticky' | 'roundrobin' } = {},
): void {
  const balancer = options.balancer ?? 'sticky';
  const ready = async (t: TestContext) =>
    (await requireBinary(t, 'haproxy', HAPROXY_PATH)) && (await setup.require(t));
  const how = balancer === 'sticky' ? 'every transport sticky' : 'round robin, no sticky sessions';

  test(`${setup.name}: three nodes behind haproxy, ${how}, every kind of send, remote groups, client results`, async (t) => {
    if (!(await ready(t))) return;
    const cluster = await startCluster({
      backplane: setup.spec(),
      leaseMs: 3_000,
      presenceGraceMs: 300,
      balancer,
    });
    try {
      // Seven clients in turn over the four transports, placed on chosen nodes by haproxy.
      const specs: [string, string | undefined, string][] = [
        ['ann1', 'ann', 'node1'],
        ['bob1', 'bob', 'node2'],
        ['cat1', 'cat', 'node3'],
        ['ann2', 'ann', 'node2'],
        ['bob2', 'bob', 'node3'],
        ['anon1', undefined, 'node1'],
        ['ann3', 'ann', 'node3'],
      ];
      const members: Member[] = [];
      for (const [i, [label, user, node]] of specs.entries()) {
        members.push(await member(cluster, label, i, user, node));
      }
      const [ann1, bob1, cat1, ann2, bob2, anon1, ann3] = members as [
        Member,
        Member,
        Member,
        Member,
        Member,
        Member,
        Member,
      ];
      assert.deepEqual(
        members.map((m) => m.node),
        specs.map(([, , node]) => node),
      );
      const onOtherNode = (target: Member) => members.find((m) => m.node !== target.node)!;

      // Remote groups: each member is added by a client on another node.
      const g1 = [ann1, bob2, cat1, anon1];
      const g2 = [ann2, bob1, cat1];
      for (const m of g1) await onOtherNode(m).connection.invoke('AddConnectionToGroup', m.id, 'g1');
      for (const m of g2) await onOtherNode(m).connection.invoke('AddConnectionToGroup', m.id, 'g2');

      const all = members;
      const except = (list: readonly Member[], ...out: Member[]) => list.filter((m) => !out.includes(m));
      const cases: [string, Member, string, unknown[], Member[]][] = [
        ['all', anon1, 'SendToAll', [], all],
        ['all-except', ann1, 'SendToAllExcept', [[ann2.id, bob1.id]], except(all, ann2, bob1)],
        ['client', onOtherNode(cat1), 'SendToConnection', [cat1.id], [cat1]],
        [
          'clients',
          bob1,
          'SendToConnections',
          [[ann1.id, bob2.id, anon1.id, ann3.id]],
          [ann1, bob2, anon1, ann3],
        ],
        ['group', onOtherNode(ann1), 'SendToGroup', ['g1'], g1],
        ['groups', ann3, 'SendToGroups', [['g1', 'g2']], [...new Set([...g1, ...g2])]],
        ['group-except', bob1, 'SendToGroupExcept', ['g1', [cat1.id, ann1.id]], except(g1, cat1, ann1)],
        ['others in group', bob2, 'SendToOthersInGroup', ['g1'], except(g1, bob2)],
        ['user', cat1, 'SendToUser', ['bob'], [bob1, bob2]],
        ['users', anon1, 'SendToUsers', [['ann', 'cat']], [ann1, ann2, ann3, cat1]],
        ['others', ann2, 'SendToOthers', [], except(all, ann2)],
      ];
      for (const [kind, sender, method, args, recipients] of cases) {
        await t.test(`${kind} from ${sender.node}`, async () => {
          const before = new Map(members.map((m) => [m, m.sends.length]));
          await sender.connection.invoke(method, ...args, kind);
          await expectDeliveries(members, kind, recipients, before);
        });
      }

      // A remote removal: cat1 (on another node than the caller) leaves g1.
      await onOtherNode(cat1).connection.invoke('RemoveConnectionFromGroup', cat1.id, 'g1');
      const before = new Map(members.map((m) => [m, m.sends.length]));
      await ann3.connection.invoke('SendToGroup', 'g1', 'after removal');
      await expectDeliveries(members, 'after removal', except(g1, cat1), before);

      // Client results across nodes: /clientresult on every node, for a connection on each node.
      for (const node of cluster.nodes) {
        for (const target of [ann1, bob1, cat1]) {
          const response = await fetch(`${node.url}/clientresult/${target.id}`);
          assert.equal(await response.text(), '10', `${node.nodeId} asks ${target.label}`);
        }
        const unknown = await fetch(`${node.url}/clientresult/nobody`);
        assert.equal(await unknown.text(), "Connection 'nobody' does not exist.");
      }
    } finally {
      await cluster.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });

  test(`${setup.name}: ${balancer === 'sticky' ? '' : 'round robin: '}presence and counts agree on every node; presence events once per transition on every node`, async (t) => {
    if (!(await ready(t))) return;
    const cluster = await startCluster({
      backplane: setup.spec(),
      leaseMs: 3_000,
      presenceGraceMs: 1_500,
      balancer,
    });
    try {
      // One anonymous watcher per node.
      const watchers: Member[] = [];
      for (const [i, node] of HAPROXY_SERVERS.entries())
        watchers.push(await member(cluster, 'watcher', i, undefined, node));
      const dave: Member[] = [];
      const erin: Member[] = [];
      for (const [i, node] of HAPROXY_SERVERS.entries())
        dave.push(await member(cluster, 'dave', i + 1, 'dave', node));
      erin.push(await member(cluster, 'erin', 2, 'erin', 'node2'));
      erin.push(await member(cluster, 'erin', 3, 'erin', 'node3'));
      await dave[0]!.connection.invoke('JoinGroup', 'room');
      await erin[1]!.connection.invoke('AddConnectionToGroup', dave[1]!.id, 'room');
      await dave[2]!.connection.invoke('AddConnectionToGroup', erin[0]!.id, 'room');
      await watchers[0]!.connection.invoke('JoinGroup', 'room'); // anonymous: not counted

      await agreeOnEveryNode(watchers, 'GetOnlineUsers', [], ['dave', 'erin']);
      await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['dave'], 3);
      await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['erin'], 2);
      await agreeOnEveryNode(watchers, 'GetGroupConnectionCount', ['room'], 3);
      await agreeOnEveryNode(watchers, 'GetGroupUsers', ['room'], ['dave', 'erin']);

      // dave leaves on one node: counts follow everywhere, nobody goes offline.
      await dave[0]!.connection.stop();
      await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['dave'], 2);
      await agreeOnEveryNode(watchers, 'GetGroupConnectionCount', ['room'], 2);
      // erin leaves everywhere: offline after the grace period, once.
      await Promise.all(erin.map((m) => m.connection.stop()));
      await agreeOnEveryNode(watchers, 'GetOnlineUsers', [], ['dave']);
      await agreeOnEveryNode(watchers, 'GetGroupUsers', ['room'], ['dave']);
      // dave's last two connections close; he comes back within the grace: no event.
      await Promise.all(dave.slice(1).map((m) => m.connection.stop()));
      const back = await member(cluster, 'dave-back', 2, 'dave');
      await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['dave'], 1);
      await sleep(2_000); // past the grace period: a wrong offline event would have been sent
      await back.connection.stop();
      await agreeOnEveryNode(watchers, 'GetOnlineUsers', [], []);

      const expected = ['dave:true', 'erin:true', 'erin:false', 'dave:false'];
      const relevant = (w: Member) => w.presence.filter((p) => /^(dave|erin):/.test(p));
      await waitFor(
        () => watchers.every((w) => relevant(w).length >= expected.length),
        5_000,
        'every presence event on every node',
      );
      await sleep(300);
      for (const w of watchers) {
        const events = relevant(w);
        assert.deepEqual(
          [...events].sort(),
          [...expected].sort(),
          `${w.label}: each transition once (${events.join(' ')})`,
        );
        assert.ok(events.indexOf('erin:true') < events.indexOf('erin:false'), `${w.label}: erin in order`);
        assert.ok(events.indexOf('dave:true') < events.indexOf('dave:false'), `${w.label}: dave in order`);
      }
    } finally {
      await cluster.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });
}
