// A connection must not miss a group send made the moment it is connected: the groups it gets at
// its start (its user's memberships, the connect event's groups) are joined before the handshake
// is answered. The service's test hook delays the join on purpose, so that a service joining after
// the answer (the old order) loses the send every time, not by luck.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connectClient, waitFor } from '@switchboard/testkit';
import { resolveConfig, SwitchboardService } from '../src/index.ts';
import { hubUrl, rest, signToken } from './helpers.ts';

const KEY = 'join-before-handshake-key';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An upstream whose connect event puts every connection in `vip`. */
async function startUpstream(): Promise<{ server: Server; template: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/connections/connect')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ groups: ['vip'] }));
      } else res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, template: `http://127.0.0.1:${port}/{hub}/{category}/{event}` };
}

test('the groups of a connection are joined before the handshake answer: a group send right after start() arrives', async () => {
  const upstream = await startUpstream();
  let delayed = 0;
  const service = new SwitchboardService(
    resolveConfig({
      hubs: [{ name: 'chat', connectEvent: true }],
      accessKey: KEY,
      host: '127.0.0.1',
      port: 0,
      upstream: upstream.template,
      logLevel: 'error',
    }),
    {
      // Widens the window between the connection's registration and its joins.
      beforeConnectionJoins: async () => {
        delayed++;
        await sleep(300);
      },
    },
  );
  const { url: baseUrl } = await service.start();
  try {
    // ada is a member of `room` (with a TTL) before she connects.
    const put = await rest(baseUrl, KEY, 'PUT', '/api/hubs/chat/users/ada/groups/room', { query: 'ttl=600' });
    assert.equal(put.status, 200);
    const url = hubUrl(baseUrl, 'chat');
    const client = await connectClient(url, {
      noStart: true,
      accessTokenFactory: () => signToken(KEY, { nameid: 'ada' }, { audience: url }),
    });
    const received: unknown[] = [];
    client.on('m', (value: unknown) => received.push(value));
    await client.start();
    // The moment the client is connected, the backend sends to both groups.
    for (const group of ['room', 'vip']) {
      const sent = await rest(baseUrl, KEY, 'POST', `/api/hubs/chat/groups/${group}/:send`, {
        body: { target: 'm', arguments: [group] },
      });
      assert.equal(sent.status, 202);
    }
    await waitFor(() => received.length === 2, 3_000, 'both group sends').catch(() => undefined);
    assert.equal(delayed, 1, 'the test hook ran');
    assert.deepEqual(received, ['room', 'vip']);
    await client.stop();
  } finally {
    await service.close();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
  }
});
