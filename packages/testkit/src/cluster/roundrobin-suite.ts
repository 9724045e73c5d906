/**
 * No sticky sessions: three conformance server processes on one backplane behind haproxy in
 * `balance roundrobin` with no cookie (`deploy/haproxy/switchboard-roundrobin.cfg`). Every request
 * goes to the next node; a node forwards what is not its own to the node the connection token
 * names (docs/scale-out.md#no-sticky-sessions). Run once per backplane
 * (`conformance/test/cluster-roundrobin-<backplane>.test.ts`), beside
 * `loadBalancerSuite(setup, { balancer: 'roundrobin' })` (`cluster-lb-roundrobin-<backplane>`).
 * @module
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import test, { type TestContext } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { WebSocket } from 'ws';
import { waitFor } from '../clients.js';
import { type Cluster, type ClusterClient, startCluster } from './cluster.js';
import type { ClusterBackplaneSetup } from './lb-suite.js';
import { HAPROXY_PATH, requireBinary, sleep } from './processes.js';

/** A node's forwarding counters (`GET /forwarding` of the conformance server). */
interface Counters {
  forwardedRequests: number;
  forwardedUpgrades: number;
  receivedHops: number;
  ownerUnreachable: number;
  timedOut: number;
  refusedHops: number;
}

/** Every node's counters, in node order. */
async function counters(cluster: Cluster): Promise<Counters[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      const response = await fetch(`${node.url}/forwarding`);
      const body = (await response.json()) as Counters | null;
      if (!body) throw new Error(`${node.nodeId} does not forward (no cluster secret?)`);
      return body;
    }),
  );
}

/** What each node's counters gained between two snapshots. */
function gained(before: Counters[], after: Counters[]): Counters[] {
  return after.map((a, i) => {
    const b = before[i]!;
    return {
      forwardedRequests: a.forwardedRequests - b.forwardedRequests,
      forwardedUpgrades: a.forwardedUpgrades - b.forwardedUpgrades,
      receivedHops: a.receivedHops - b.receivedHops,
      ownerUnreachable: a.ownerUnreachable - b.ownerUnreachable,
      timedOut: a.timedOut - b.timedOut,
      refusedHops: a.refusedHops - b.refusedHops,
    };
  });
}

/** A client with the `Send` messages it received. */
interface Member extends ClusterClient {
  readonly sends: unknown[];
}

async function member(
  cluster: Cluster,
  transport: HttpTransportType,
  user?: string,
  node?: string,
): Promise<Member> {
  const client = await cluster.connect('/testhub', {
    transport,
    ...(user ? { user } : {}),
    ...(node ? { node } : {}),
  });
  const sends: unknown[] = [];
  client.connection.on('Send', (x: unknown) => sends.push(x));
  client.connection.on('Result', () => 7);
  return { ...client, sends };
}

/** Registers the round-robin tests for one backplane. */
export function roundRobinSuite(setup: ClusterBackplaneSetup): void {
  const ready = async (t: TestContext) =>
    (await requireBinary(t, 'haproxy', HAPROXY_PATH)) && (await setup.require(t));
  const start = () =>
    startCluster({ backplane: setup.spec(), leaseMs: 3_000, presenceGraceMs: 300, balancer: 'roundrobin' });

  test(`${setup.name}: round robin: long-polling and Server-Sent Events clients whose requests land on every node`, async (t) => {
    if (!(await ready(t))) return;
    const cluster = await start();
    try {
      for (const [name, transport] of [
        ['LongPolling', HttpTransportType.LongPolling],
        ['ServerSentEvents', HttpTransportType.ServerSentEvents],
      ] as const) {
        await t.test(name, async () => {
          const before = await counters(cluster);
          const members: Member[] = [];
          // One client on each node.
          for (const [i, user] of ['ann', 'bob', 'cat'].entries()) {
            members.push(await member(cluster, transport, user, `node${i + 1}`));
          }
          // Each invocation is a POST; its completion comes back on a poll or the stream.
          for (let i = 0; i < 6; i++) {
            for (const m of members)
              assert.equal(await m.connection.invoke('Echo', `${m.user}${i}`), `${m.user}${i}`);
          }
          // Sends across nodes reach every kind of recipient, whatever node each request hit.
          await members[0]!.connection.invoke('SendToAll', `all-${name}`);
          await members[1]!.connection.invoke('SendToUser', 'cat', `user-${name}`);
          for (const m of members)
            await members[2]!.connection.invoke('AddConnectionToGroup', m.id, `g-${name}`);
          await members[2]!.connection.invoke('SendToGroup', `g-${name}`, `group-${name}`);
          await waitFor(
            () =>
              members.every((m) => m.sends.includes(`all-${name}`) && m.sends.includes(`group-${name}`)) &&
              members[2]!.sends.includes(`user-${name}`),
            5_000,
            `the sends of ${name}`,
          );
          // A client result: asked on every node; the client answers with a POST through haproxy.
          for (const node of cluster.nodes) {
            const response = await fetch(`${node.url}/clientresult/${members[0]!.id}`);
            assert.equal(await response.text(), '7', `${node.nodeId} asks ${members[0]!.node}`);
          }
          const delta = gained(before, await counters(cluster));
          for (const [i, d] of delta.entries()) {
            assert.ok(
              d.forwardedRequests > 0,
              `node${i + 1} forwarded ${name} requests: ${JSON.stringify(d)}`,
            );
          }
          const owners = new Set(members.map((m) => m.node));
          for (const [i, d] of delta.entries()) {
            if (owners.has(`node${i + 1}`)) {
              assert.ok(d.receivedHops > 0, `node${i + 1} received ${name} hops: ${JSON.stringify(d)}`);
            }
          }
          assert.deepEqual(
            delta.map((d) => d.ownerUnreachable + d.timedOut + d.refusedHops),
            [0, 0, 0],
            'no forward failed',
          );
          await Promise.all(members.map((m) => m.connection.stop()));
        });
      }
    } finally {
      await cluster.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });

  test(`${setup.name}: round robin: WebSocket clients negotiate on one node and upgrade on another`, async (t) => {
    if (!(await ready(t))) return;
    const cluster = await start();
    try {
      const before = await counters(cluster);
      const members: Member[] = [];
      for (let i = 0; i < 6; i++) members.push(await member(cluster, HttpTransportType.WebSockets));
      for (const m of members) assert.equal(await m.connection.invoke('Echo', m.id), m.id);
      await members[5]!.connection.invoke('SendToAll', 'ws-all');
      await waitFor(() => members.every((m) => m.sends.includes('ws-all')), 5_000, 'SendToAll');
      const delta = gained(before, await counters(cluster));
      const upgrades = delta.reduce((sum, d) => sum + d.forwardedUpgrades, 0);
      // haproxy sends the upgrade to the node after the one that answered the negotiate.
      assert.ok(upgrades >= 1, `upgrades forwarded: ${JSON.stringify(delta)}`);
      assert.ok(new Set(members.map((m) => m.node)).size >= 2, 'connections live on several nodes');
    } finally {
      await cluster.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });

  test(`${setup.name}: round robin: forged and stale tokens get the 404 of an unknown connection on every node`, async (t) => {
    if (!(await ready(t))) return;
    const cluster = await start();
    try {
      const reply = await send(`${cluster.url}/testhub/negotiate?negotiateVersion=1`, 'POST');
      assert.equal(reply.status, 200, reply.text);
      const token = (JSON.parse(reply.text) as { connectionToken: string }).connectionToken;
      const parts = token.split('.');
      assert.equal(parts.length, 4, `a token that names its owner: ${token}`);
      const forged = [
        [...parts.slice(0, 3), 'A'.repeat(parts[3]!.length)].join('.'),
        [parts[0], parts[1], Buffer.from('x\nhttp://169.254.0.1:80').toString('base64url'), parts[3]].join(
          '.',
        ),
        'plainly-wrong',
      ];
      const before = await counters(cluster);
      for (const bad of forged) {
        // Three of each, so that every node answers one.
        for (let i = 0; i < 3; i++) {
          for (const method of ['GET', 'POST', 'DELETE']) {
            const response = await send(
              `${cluster.url}/testhub?id=${encodeURIComponent(bad)}`,
              method,
              method === 'POST' ? '{}\u001e' : undefined,
            );
            assert.equal(response.status, 404, `${method} ${bad}`);
            assert.equal(response.text, 'No Connection with that ID');
          }
        }
      }
      const delta = gained(before, await counters(cluster));
      assert.deepEqual(
        delta.map((d) => d.forwardedRequests),
        [0, 0, 0],
        'a forged token is never forwarded',
      );
      // A forged token on a WebSocket upgrade, on every node.
      for (let i = 0; i < 3; i++) {
        const status = await upgradeStatus(
          `${cluster.url.replace('http', 'ws')}/testhub?id=${encodeURIComponent(forged[0]!)}`,
        );
        assert.equal(status, 404, `upgrade ${i + 1}`);
      }
      // Stale: a connection that ended. Its token still names its owner, which answers 404.
      const negotiated = await send(`${cluster.url}/testhub/negotiate?negotiateVersion=1`, 'POST');
      assert.equal(negotiated.status, 200, negotiated.text);
      const staleToken = (JSON.parse(negotiated.text) as { connectionToken: string }).connectionToken;
      // Start it as long polling, then end it with a DELETE (each request on whichever node).
      const url = `${cluster.url}/testhub?id=${encodeURIComponent(staleToken)}`;
      assert.equal((await send(url)).status, 200);
      assert.equal((await send(url, 'DELETE')).status, 202);
      await send(url); // the last poll drains it (204), or it is gone already (404)
      await sleep(100);
      for (let i = 0; i < 3; i++) {
        const response = await send(url);
        assert.equal(response.status, 404, `stale token, request ${i + 1}`);
      }
    } finally {
      await cluster.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });
}

/** The HTTP status a WebSocket upgrade is refused with (101 if it is accepted, then closed). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

/**
 * One request on a fresh connection (no keep-alive: a connection haproxy closed while idle is
 * never reused), answered with its status and text.
 */
function send(url: string, method = 'GET', body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}
