/**
 * Issue #16, every core: the conformance server with `--workers 3`, its workers joined by the
 * in-box bus (no outside service). The cluster tests run on the workers as on nodes: every kind of
 * send, remote groups, client results, presence; and a worker killed with SIGKILL while clients
 * send numbered messages. Clients connect over WebSockets with skipNegotiation (node:cluster
 * spreads connections over the workers; `GetNodeId()` says which worker serves each).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import test, { after } from 'node:test';
import {
  agreeOnEveryNode,
  ChildHandle,
  expectDeliveries,
  type Member,
  sleep,
  WorkersServer,
  waitFor,
} from '@switchboard/testkit';

after(() => ChildHandle.killAll());

async function member(server: WorkersServer, label: string, user?: string, node?: string): Promise<Member> {
  const client = await server.connect('/testhub', { ...(user ? { user } : {}), ...(node ? { node } : {}) });
  const sends: unknown[] = [];
  const presence: string[] = [];
  client.connection.on('Send', (x: unknown) => sends.push(x));
  client.connection.on('Presence', (u: string, online: boolean) => presence.push(`${u}:${online}`));
  client.connection.on('Result', () => 10);
  return { ...client, label: `${label}@${client.node}`, sends, presence };
}

/** `GET path` on a new TCP connection (node:cluster hands each new connection to the next worker). */
function getOnNewConnection(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('--workers 3: GetNodeId names the worker; every kind of send, remote groups and client results span the workers', async (t) => {
  const server = await WorkersServer.start({ workers: 3, leaseMs: 3_000, presenceGraceMs: 300 });
  try {
    const [n1, n2, n3] = server.nodes as [string, string, string];
    const specs: [string, string | undefined, string][] = [
      ['ann1', 'ann', n1],
      ['bob1', 'bob', n2],
      ['cat1', 'cat', n3],
      ['ann2', 'ann', n2],
      ['bob2', 'bob', n3],
      ['anon1', undefined, n1],
      ['ann3', 'ann', n3],
    ];
    const members: Member[] = [];
    for (const [label, user, node] of specs) members.push(await member(server, label, user, node));
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
      'each connection on the worker chosen',
    );
    const onOtherNode = (target: Member) => members.find((m) => m.node !== target.node)!;

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

    await onOtherNode(cat1).connection.invoke('RemoveConnectionFromGroup', cat1.id, 'g1');
    const before = new Map(members.map((m) => [m, m.sends.length]));
    await ann3.connection.invoke('SendToGroup', 'g1', 'after removal');
    await expectDeliveries(members, 'after removal', except(g1, cat1), before);

    // Client results: /clientresult on new TCP connections, which node:cluster spreads over the
    // workers (round robin), so each target is asked from every worker, its own and the others.
    for (const target of [ann1, bob1, cat1]) {
      for (let i = 0; i < 6; i++) {
        assert.equal(await getOnNewConnection(`${server.url}/clientresult/${target.id}`), '10', target.label);
      }
    }
    assert.equal(
      await getOnNewConnection(`${server.url}/clientresult/nobody`),
      "Connection 'nobody' does not exist.",
    );
  } finally {
    await server.close();
  }
  assert.equal(await server.exited, 0, 'SIGTERM drains every worker and exits 0');
});

test('--workers 3: presence and counts agree on every worker; presence events once per transition on every worker', async () => {
  const server = await WorkersServer.start({ workers: 3, leaseMs: 3_000, presenceGraceMs: 1_500 });
  try {
    const nodes = server.nodes;
    const watchers: Member[] = [];
    for (const node of nodes) watchers.push(await member(server, 'watcher', undefined, node));
    const dave: Member[] = [];
    const erin: Member[] = [];
    for (const node of nodes) dave.push(await member(server, 'dave', 'dave', node));
    erin.push(await member(server, 'erin', 'erin', nodes[1]));
    erin.push(await member(server, 'erin', 'erin', nodes[2]));
    await dave[0]!.connection.invoke('JoinGroup', 'room');
    await erin[1]!.connection.invoke('AddConnectionToGroup', dave[1]!.id, 'room');
    await dave[2]!.connection.invoke('AddConnectionToGroup', erin[0]!.id, 'room');
    await watchers[0]!.connection.invoke('JoinGroup', 'room');

    await agreeOnEveryNode(watchers, 'GetOnlineUsers', [], ['dave', 'erin']);
    await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['dave'], 3);
    await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['erin'], 2);
    await agreeOnEveryNode(watchers, 'GetGroupConnectionCount', ['room'], 3);
    await agreeOnEveryNode(watchers, 'GetGroupUsers', ['room'], ['dave', 'erin']);

    await dave[0]!.connection.stop();
    await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['dave'], 2);
    await agreeOnEveryNode(watchers, 'GetGroupConnectionCount', ['room'], 2);
    await Promise.all(erin.map((m) => m.connection.stop()));
    await agreeOnEveryNode(watchers, 'GetOnlineUsers', [], ['dave']);
    await agreeOnEveryNode(watchers, 'GetGroupUsers', ['room'], ['dave']);
    await Promise.all(dave.slice(1).map((m) => m.connection.stop()));
    const back = await member(server, 'dave-back', 'dave');
    await agreeOnEveryNode(watchers, 'GetUserConnectionCount', ['dave'], 1);
    await sleep(2_000); // past the grace period: a wrong offline event would have been sent
    await back.connection.stop();
    await agreeOnEveryNode(watchers, 'GetOnlineUsers', [], []);

    const expected = ['dave:true', 'erin:true', 'erin:false', 'dave:false'];
    const relevant = (w: Member) => w.presence.filter((p) => /^(dave|erin):/.test(p));
    await waitFor(() => watchers.every((w) => relevant(w).length >= expected.length), 5_000, 'every event');
    await sleep(300);
    for (const w of watchers) {
      const events = relevant(w);
      assert.deepEqual([...events].sort(), [...expected].sort(), `${w.label}: each transition once`);
      assert.ok(events.indexOf('erin:true') < events.indexOf('erin:false'), `${w.label}: erin in order`);
      assert.ok(events.indexOf('dave:true') < events.indexOf('dave:false'), `${w.label}: dave in order`);
    }
  } finally {
    await server.close();
  }
});
