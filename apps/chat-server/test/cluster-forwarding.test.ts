// No sticky sessions in the chat (docs/scale-out.md#no-sticky-sessions): two chat processes on one
// PostgreSQL schema and one Redis prefix, nothing configured for it but the JWT secret they share.
// A connection negotiated on node 1 is used through node 2 only: long polling (polls and POSTs)
// and a WebSocket upgrade reach node 1, forwarded; a forged token gets 404. Skips loudly without
// PostgreSQL or Redis (fails under CI=true).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { REDIS_URL, servicesAvailable, startCluster } from './process-cluster.ts';

const HUB = '/hubs/chat';
const RS = '\x1e';

test('a connection negotiated on one node is served through the other (long polling, WebSockets)', async (t) => {
  if (!(await servicesAvailable(t))) return;
  const cluster = await startCluster({ nodes: 2, name: 'forward', backplane: () => ({ REDIS_URL }) });
  try {
    const [one, two] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const session = await cluster.register('fwd', one);
    const auth = { authorization: `Bearer ${session.token}` };
    const negotiate = async () => {
      const reply = await fetch(`${one.url}${HUB}/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: auth,
      });
      assert.equal(reply.status, 200);
      return ((await reply.json()) as { connectionToken: string }).connectionToken;
    };

    // Long polling, every request on node 2.
    const token = await negotiate();
    const url = `${two.url}${HUB}?id=${encodeURIComponent(token)}`;
    assert.equal((await fetch(url, { headers: auth })).status, 200, 'the first poll');
    const posted = await fetch(url, {
      method: 'POST',
      headers: auth,
      body: `{"protocol":"json","version":1}${RS}`,
    });
    assert.equal(posted.status, 200);
    const handshake = await fetch(url, { headers: auth });
    assert.equal(handshake.status, 200);
    assert.ok((await handshake.text()).startsWith(`{}${RS}`), 'the handshake reply, through node 2');
    // The owner checks the user on every request: another user's token is refused there.
    const other = await cluster.register('other', one);
    const stolen = await fetch(url, { headers: { authorization: `Bearer ${other.token}` } });
    assert.equal(stolen.status, 403);
    assert.equal((await fetch(url, { method: 'DELETE', headers: auth })).status, 202);

    // A WebSocket negotiated on node 1, upgraded on node 2.
    const wsToken = await negotiate();
    const ws = new WebSocket(
      `${two.url.replace('http', 'ws')}${HUB}?id=${encodeURIComponent(wsToken)}&access_token=${encodeURIComponent(session.token)}`,
    );
    const first = new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(`{"protocol":"json","version":1}${RS}`);
    assert.ok((await first).startsWith(`{}${RS}`), 'the handshake reply over the piped socket');
    ws.close();

    // A forged token: 404 on node 2, as an unknown connection.
    const parts = token.split('.');
    const forged = [...parts.slice(0, 3), 'A'.repeat(22)].join('.');
    const refused = await fetch(`${two.url}${HUB}?id=${encodeURIComponent(forged)}`, { headers: auth });
    assert.equal(refused.status, 404);
  } finally {
    await cluster.close();
  }
});
