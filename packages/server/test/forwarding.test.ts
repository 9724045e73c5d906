// No sticky sessions (docs/scale-out.md#no-sticky-sessions): two nodes of one cluster sharing a
// backplane and a clusterSecret; every transport request of a connection negotiated on node A is
// sent to node B on the wire, and B forwards it to A. Forged, stale and unreachable tokens get
// the 404 of an unknown connection; a hop that is not signed by the cluster gets 403.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Hub } from '@switchboard/server';
import { startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { WebSocket } from 'ws';
import { ClusterKeys, HOP_HEADER } from '../src/http/forwarding/cluster-keys.ts';
import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '../src/testing/index.ts';
import { http, negotiated, openEventStream } from './http-transport-helpers.ts';

const SECRET = 'the cluster secret';
const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const invoke = (id: string, target: string, args: unknown[]) =>
  `${JSON.stringify({ type: 1, invocationId: id, target, arguments: args })}\x1e`;

/** Connection ids whose hub connection ended, on any node. */
const ended = new Set<string>();

function nodeHub(label: string) {
  return class NodeHub extends Hub {
    override onDisconnected() {
      ended.add(this.context.connectionId);
    }
    node() {
      return label;
    }
    echo(value: unknown) {
      return value;
    }
  };
}

describe('forwarding between two nodes', () => {
  const network = new LoopbackNetwork();
  const presenceNetwork = new LoopbackPresenceNetwork();
  let a: TestServer;
  let b: TestServer;
  const start = (label: string) =>
    startTestServer((hubs) => hubs.mapHub('/hub', nodeHub(label)), {
      backplane: loopbackBackplane({ network, presenceNetwork, nodeId: label }),
      clusterSecret: SECRET,
      longPollTimeoutMs: 500,
      maxWebSocketFrameSize: 1024,
    });
  before(async () => {
    a = await start('a');
    b = await start('b');
    await Promise.all([a.hubs.ready(), b.hubs.ready()]);
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  test('the token names its owner, signed: the owner reads it, and it is URL-safe', async () => {
    const { token } = await negotiated(`${a.baseUrl}/hub`);
    assert.match(token, /^[A-Za-z0-9_.-]+$/);
    assert.deepEqual(new ClusterKeys(SECRET).read(token), { nodeId: 'a', url: a.baseUrl });
    assert.equal(new ClusterKeys('another secret').read(token), undefined);
  });

  test('long polling: polls, POSTs and the DELETE on the other node reach the owner', async () => {
    const before = b.hubs.forwarding()!.forwardedRequests;
    const { id, token } = await negotiated(`${a.baseUrl}/hub`);
    const onB = `${b.baseUrl}/hub?id=${encodeURIComponent(token)}`;
    assert.equal((await http(onB)).status, 200, 'the first poll, on B');
    assert.equal((await http(onB, { method: 'POST', body: HANDSHAKE })).status, 200);
    assert.equal((await http(onB)).text, '{}\x1e', 'the handshake reply, polled on B');
    assert.equal((await http(onB, { method: 'POST', body: invoke('1', 'node', []) })).status, 200);
    const reply = await http(onB);
    assert.match(reply.text, /"result":"a"/, 'the connection lives on A');
    assert.equal((await http(onB, { method: 'DELETE' })).status, 202);
    await waitFor(() => ended.has(id), 5_000, 'the connection ends on A');
    assert.equal(b.hubs.forwarding()!.forwardedRequests - before, 6);
    assert.ok(a.hubs.forwarding()!.receivedHops >= 6);
  });

  test('Server-Sent Events: the stream on the other node, sends on both', async () => {
    const { id, token } = await negotiated(`${a.baseUrl}/hub`);
    const onA = `${a.baseUrl}/hub?id=${encodeURIComponent(token)}`;
    const onB = `${b.baseUrl}/hub?id=${encodeURIComponent(token)}`;
    const stream = await openEventStream(onB);
    try {
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers['content-type']), /text\/event-stream/);
      assert.equal((await http(onA, { method: 'POST', body: HANDSHAKE })).status, 200);
      await stream.until((t) => t.includes('data: {}'), 'the handshake reply');
      assert.equal((await http(onB, { method: 'POST', body: invoke('1', 'echo', ['via B']) })).status, 200);
      await stream.until((t) => t.includes('"result":"via B"'), 'the echo');
      assert.equal((await http(onA, { method: 'POST', body: invoke('2', 'node', []) })).status, 200);
      await stream.until((t) => t.includes('"result":"a"'), 'the node');
    } finally {
      stream.close();
    }
    await waitFor(() => ended.has(id), 5_000, 'the stream closed through B ends the connection');
  });

  test('a POST larger than the owner allows gets its 413 through the hop', async () => {
    const { token } = await negotiated(`${a.baseUrl}/hub`);
    const onB = `${b.baseUrl}/hub?id=${encodeURIComponent(token)}`;
    await http(onB);
    const answer = await http(onB, { method: 'POST', body: 'x'.repeat(4096) });
    assert.equal(answer.status, 413);
    await http(onB, { method: 'DELETE' });
  });

  test('WebSockets: negotiate on A, upgrade on B; the socket is piped to A', async () => {
    const before = b.hubs.forwarding()!.forwardedUpgrades;
    const { id, token } = await negotiated(`${a.baseUrl}/hub`);
    const ws = new WebSocket(`${b.baseUrl.replace('http', 'ws')}/hub?id=${encodeURIComponent(token)}`);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(String(data)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(HANDSHAKE);
    ws.send(invoke('1', 'node', []));
    ws.send(invoke('2', 'echo', ['x'.repeat(500)]));
    await waitFor(() => frames.join('').includes('"invocationId":"2"'), 5_000, 'both answers');
    assert.match(frames.join(''), /"invocationId":"1","result":"a"/);
    assert.equal(b.hubs.forwarding()!.forwardedUpgrades - before, 1);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(invoke('3', 'echo', ['y'.repeat(2000)])); // over the owner's frame limit
    assert.equal(await closed, 1009, "the owner's maxPayload holds through the pipe");
    await waitFor(() => ended.has(id), 5_000, 'the connection ends on A');
  });

  test('forged, stale and unreachable tokens get the 404 of an unknown connection', async () => {
    const keys = new ClusterKeys(SECRET);
    const { token } = await negotiated(`${a.baseUrl}/hub`);
    const forwarded = () => b.hubs.forwarding()!.forwardedRequests;
    // Forged: another signature, or an owner rewritten (here: pointing at B itself).
    const parts = token.split('.');
    const badMac = [...parts.slice(0, 3), 'A'.repeat(22)].join('.');
    const otherOwner = `${parts.slice(0, 2).join('.')}.${Buffer.from(`a\nhttp://127.0.0.1:1`).toString('base64url')}.${parts[3]}`;
    const foreign = new ClusterKeys('not the secret').mint('r'.repeat(22), { nodeId: 'a', url: a.baseUrl });
    for (const forged of [badMac, otherOwner, foreign, 'c1.x.y.z', 'nonsense']) {
      const count = forwarded();
      const answer = await http(`${b.baseUrl}/hub?id=${encodeURIComponent(forged)}`);
      assert.equal(answer.status, 404, forged);
      assert.equal(answer.text, 'No Connection with that ID');
      assert.equal(forwarded(), count, `${forged} is not forwarded`);
    }
    // Stale: the connection ended on its owner (a long poll, deleted, its last poll answered).
    const onA = `${a.baseUrl}/hub?id=${encodeURIComponent(token)}`;
    assert.equal((await http(onA)).status, 200);
    assert.equal((await http(onA, { method: 'DELETE' })).status, 202);
    assert.ok([204, 404].includes((await http(onA)).status), 'the last poll drains it');
    const stale = await http(`${b.baseUrl}/hub?id=${encodeURIComponent(token)}`);
    assert.equal(stale.status, 404);
    assert.equal(stale.text, 'No Connection with that ID');
    // Unreachable: a valid token of a node that is gone.
    const port = await closedPort();
    const gone = keys.mint('g'.repeat(22), { nodeId: 'gone', url: `http://127.0.0.1:${port}` });
    const unreachable = b.hubs.forwarding()!.ownerUnreachable;
    const answer = await http(`${b.baseUrl}/hub?id=${encodeURIComponent(gone)}`);
    assert.equal(answer.status, 404);
    assert.equal(b.hubs.forwarding()!.ownerUnreachable, unreachable + 1);
    // And a WebSocket upgrade with a forged token.
    const ws = new WebSocket(`${b.baseUrl.replace('http', 'ws')}/hub?id=${encodeURIComponent(badMac)}`);
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    assert.equal(status, 404);
  });

  test('a request with a hop header not signed by the cluster is refused (403), never forwarded', async () => {
    const { token } = await negotiated(`${a.baseUrl}/hub`);
    const url = `/hub?id=${encodeURIComponent(token)}`;
    const refused = b.hubs.forwarding()!.refusedHops;
    const forged = new ClusterKeys('not the secret').signHop('a', 'GET', url, Date.now());
    const expired = new ClusterKeys(SECRET).signHop('a', 'GET', url, Date.now() - 120_000);
    const otherUrl = new ClusterKeys(SECRET).signHop('a', 'GET', '/hub?id=other', Date.now());
    for (const hop of [forged, expired, otherUrl, 'garbage']) {
      const answer = await http(`${b.baseUrl}${url}`, { headers: { [HOP_HEADER]: hop } });
      assert.equal(answer.status, 403, hop);
    }
    assert.equal(b.hubs.forwarding()!.refusedHops, refused + 4);
    // A valid hop to a node that does not own the connection: served there (404), no second hop.
    const valid = new ClusterKeys(SECRET).signHop('a', 'GET', url, Date.now());
    const count = b.hubs.forwarding()!.forwardedRequests;
    const answer = await http(`${b.baseUrl}${url}`, { headers: { [HOP_HEADER]: valid } });
    assert.equal(answer.status, 404);
    assert.equal(b.hubs.forwarding()!.forwardedRequests, count);
    await http(`${a.baseUrl}${url}`, { method: 'DELETE' });
  });
});

test('without clusterSecret nothing is forwarded: a request on another node gets 404', async () => {
  const network = new LoopbackNetwork();
  const presenceNetwork = new LoopbackPresenceNetwork();
  const start = (label: string) =>
    startTestServer((hubs) => hubs.mapHub('/hub', nodeHub(label)), {
      backplane: loopbackBackplane({ network, presenceNetwork, nodeId: label }),
    });
  const a = await start('a');
  const b = await start('b');
  try {
    const { token } = await negotiated(`${a.baseUrl}/hub`);
    assert.equal((await http(`${b.baseUrl}/hub?id=${encodeURIComponent(token)}`)).status, 404);
    assert.equal(b.hubs.forwarding(), undefined);
  } finally {
    await a.close();
    await b.close();
  }
});

test('advertiseUrl is checked: an http(s) origin, and only with clusterSecret', async () => {
  const { HubServer } = await import('@switchboard/server');
  for (const advertiseUrl of ['ftp://x', 'http://x/path', 'not a url']) {
    assert.throws(() => new HubServer({ clusterSecret: 's', advertiseUrl }), {
      code: 'SB_ERR_HUB_CONFIGURATION',
    });
  }
  assert.throws(() => new HubServer({ advertiseUrl: 'http://x:1' }), { code: 'SB_ERR_HUB_CONFIGURATION' });
  assert.throws(() => new HubServer({ clusterSecret: '' }), { code: 'SB_ERR_HUB_CONFIGURATION' });
  const hubs = new HubServer({ clusterSecret: 's', advertiseUrl: 'http://10.0.0.5:3000/' });
  await hubs.close();
});

test('advertiseUrl is what the token names', async () => {
  const server = await startTestServer((hubs) => hubs.mapHub('/hub', nodeHub('x')), {
    clusterSecret: SECRET,
    advertiseUrl: 'http://10.1.2.3:4567',
  });
  try {
    const { token } = await negotiated(`${server.baseUrl}/hub`);
    assert.equal(new ClusterKeys(SECRET).read(token)?.url, 'http://10.1.2.3:4567');
  } finally {
    await server.close();
  }
});

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
