// The upstream against a small test HTTP server: it checks every request's signature, answers
// invocations with Completions (results and errors), fails with 500, stays silent past the
// timeout; the blocking connect event refuses or sets groups; events come in order per connection.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { messagePackHubProtocol } from '@switchboard/protocol';
import { waitFor } from '@switchboard/testkit';
import { collect, connectHub, refusalOf, rest, type ServiceProcess, startService } from './helpers.ts';

const KEY = 'upstream-test-key';
const SECOND_KEY = 'upstream-second-key';

interface Seen {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  readonly signatureOk: boolean;
}

const seen: Seen[] = [];
let upstream: Server;
let service: ServiceProcess;
const clients: HubConnection[] = [];
const pending: ServerResponse[] = [];
const flakyFailed = new Set<string>();

function signatureOk(headers: IncomingMessage['headers']): boolean {
  const id = String(headers['x-asrs-connection-id'] ?? '');
  const want = `sha256=${createHmac('sha256', KEY).update(id).digest('hex')}`;
  return String(headers['x-asrs-signature'] ?? '')
    .split(',')
    .includes(want);
}

/** The invocation in an upstream body, in either protocol. */
function invocationOf(seen: Seen): { invocationId?: string; target: string; arguments: unknown[] } {
  if (seen.headers['content-type'] === 'application/x-msgpack') {
    return messagePackHubProtocol.parseMessages(seen.body).messages[0] as never;
  }
  assert.equal(seen.body[seen.body.length - 1], 0x1e, 'a JSON body ends with the record separator');
  return JSON.parse(seen.body.subarray(0, -1).toString('utf8'));
}

function completion(seen: Seen, fields: Record<string, unknown>): Buffer {
  const invocationId = invocationOf(seen).invocationId!;
  if (seen.headers['content-type'] === 'application/x-msgpack') {
    return messagePackHubProtocol.writeMessage({
      type: 3,
      invocationId,
      hasResult: 'result' in fields,
      ...fields,
    } as never);
  }
  return Buffer.from(`${JSON.stringify({ type: 3, invocationId, ...fields })}\x1e`);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const entry: Seen = {
    path: req.url ?? '',
    headers: req.headers,
    body: Buffer.concat(chunks),
    signatureOk: signatureOk(req.headers),
  };
  seen.push(entry);
  if (!entry.signatureOk) {
    res.writeHead(401).end();
    return;
  }
  const event = entry.path.split('/').pop();
  if (entry.path.includes('/connections/')) {
    if (event === 'connect') {
      const { claims } = JSON.parse(entry.body.toString('utf8')) as { claims: { nameid?: string } };
      if (claims.nameid === 'banned') {
        res.writeHead(403).end();
        return;
      }
      // The upstream decides who the connection is.
      const renamed: Record<string, unknown> = { alias: 'renamed', 'bad-user': 42 };
      if (claims.nameid !== undefined && claims.nameid in renamed) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ userId: renamed[claims.nameid], groups: ['vip'] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ groups: ['vip'] }));
      return;
    }
    const id = String(req.headers['x-asrs-connection-id']);
    if (event === 'connected' && req.headers['x-asrs-user-id'] === 'flaky' && !flakyFailed.has(id)) {
      flakyFailed.add(id);
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200).end();
    return;
  }
  switch (event) {
    case 'echo':
      res.writeHead(200).end(completion(entry, { result: invocationOf(entry).arguments }));
      return;
    case 'fail':
      res.writeHead(200).end(completion(entry, { error: 'nope from upstream' }));
      return;
    case 'broken':
      res.writeHead(500).end('boom');
      return;
    case 'huge':
      res.writeHead(200).end(Buffer.alloc(1024 * 1024 + 1, 0x20));
      return;
    case 'slow':
      pending.push(res);
      return;
    default:
      res.writeHead(200).end();
  }
}

before(async () => {
  upstream = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const config = join(tmpdir(), `switchboard-upstream-${process.pid}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      hubs: [
        { name: 'chat', connectEvent: true },
        'plain',
        { name: 'down', upstream: `http://127.0.0.1:${closedPort}/{hub}/{category}/{event}` },
      ],
      accessKeys: [KEY, SECOND_KEY],
      upstream: `http://127.0.0.1:${port}/{hub}/{category}/{event}`,
      limits: { upstreamTimeoutMs: 1_000, upstreamRetries: 1, upstreamRetryDelayMs: 50 },
    }),
  );
  service = await startService(['--config', config]);
});

after(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await service.stop();
  for (const res of pending) res.destroy();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

async function client(hub: string, user: string, msgpack = false): Promise<HubConnection> {
  const c = await connectHub(
    service.baseUrl,
    hub,
    KEY,
    user,
    msgpack ? new MessagePackHubProtocol() : undefined,
  );
  clients.push(c);
  return c;
}

const forConnection = (id: string | null) => seen.filter((s) => s.headers['x-asrs-connection-id'] === id);

test('invocations reach the upstream signed, with the reference headers, and its Completion answers them (JSON and MessagePack)', async () => {
  for (const msgpack of [false, true]) {
    const c = await client('plain', 'ann', msgpack);
    assert.deepEqual(await c.invoke('echo', 1, 'two', { three: 3 }), [1, 'two', { three: 3 }]);
    const request = forConnection(c.connectionId).find((s) => s.path === '/plain/messages/echo')!;
    assert.ok(request, 'the invocation went to {hub}/{category}/{event}');
    assert.ok(request.signatureOk, 'X-ASRS-Signature holds sha256= HMAC of the connection id with the key');
    assert.equal(request.headers['x-asrs-hub'], 'plain');
    assert.equal(request.headers['x-asrs-category'], 'messages');
    assert.equal(request.headers['x-asrs-event'], 'echo');
    assert.equal(request.headers['x-asrs-user-id'], 'ann');
    assert.equal(request.headers['content-type'], msgpack ? 'application/x-msgpack' : 'application/json');
    assert.equal(
      String(request.headers['x-asrs-signature']).split(',').length,
      2,
      'one signature per access key',
    );
    const message = invocationOf(request);
    assert.equal(message.target, 'echo');
    assert.deepEqual(message.arguments, [1, 'two', { three: 3 }]);
    // A Completion with an error reaches the caller as the upstream wrote it.
    await assert.rejects(c.invoke('fail'), (error: Error) => {
      assert.equal(error.message, 'nope from upstream');
      return true;
    });
    // A send (no invocation id) reaches the upstream too, and an empty answer completes an invoke.
    await c.send('note', 'x');
    assert.ok((await c.invoke('anything')) == null);
    assert.ok(forConnection(c.connectionId).some((s) => s.path === '/plain/messages/note'));
  }
});

test('connected, messages in order, then disconnected', async () => {
  const c = await client('plain', 'bea');
  for (let i = 0; i < 20; i++) void c.send('seq', i);
  await c.invoke('echo', 'last');
  const id = c.connectionId;
  await c.stop();
  await waitFor(
    () => forConnection(id).some((s) => s.path === '/plain/connections/disconnected'),
    5_000,
    'disconnected',
  );
  const events = forConnection(id).map((s) => s.path.split('/').slice(2).join('/'));
  assert.deepEqual(events, [
    'connections/connected',
    ...Array.from({ length: 20 }, () => 'messages/seq'),
    'messages/echo',
    'connections/disconnected',
  ]);
  const order = forConnection(id)
    .filter((s) => s.path.endsWith('/seq'))
    .map((s) => invocationOf(s).arguments[0]);
  assert.deepEqual(
    order,
    Array.from({ length: 20 }, (_, i) => i),
  );
  const disconnected = forConnection(id).at(-1)!;
  assert.deepEqual(JSON.parse(disconnected.body.toString('utf8')), { Error: '' });
});

test('an upstream that fails, times out or is down gives the caller a clear error', async () => {
  const c = await client('plain', 'cal');
  await assert.rejects(c.invoke('broken'), /Upstream request failed: the upstream answered 500/);
  await assert.rejects(c.invoke('slow'), /Upstream request failed: no answer within 1000 ms/);
  await assert.rejects(
    c.invoke('huge'),
    /Upstream request failed: the upstream's answer is larger than 1048576 bytes/,
  );
  // The connection goes on.
  assert.deepEqual(await c.invoke('echo', 'still here'), ['still here']);
  const d = await client('down', 'dan');
  await assert.rejects(d.invoke('x'), /Upstream request failed: ECONNREFUSED/);
});

test('the blocking connect event refuses a connection, or puts it in the groups it answers', async () => {
  // The connect event runs before the handshake is answered; a refusal answers the handshake and
  // closes with the reason at once (start() rejects with it, or the client closes with it).
  const url = `${service.baseUrl}/client/?hub=chat`;
  const { connectClient } = await import('@switchboard/testkit');
  const { signToken } = await import('./helpers.ts');
  const banned = await connectClient(url, {
    noStart: true,
    accessTokenFactory: () => signToken(KEY, { nameid: 'banned' }, { audience: url }),
  });
  assert.match(await refusalOf(banned), /Connection refused by the upstream: 403/);
  const c = await client('chat', 'vic');
  // The connected event follows the connect step (its groups joined).
  await waitFor(
    () => forConnection(c.connectionId).some((s) => s.path === '/chat/connections/connected'),
    5_000,
    'the connected event',
  );
  const connect = forConnection(c.connectionId).find((s) => s.path === '/chat/connections/connect')!;
  assert.ok(connect.signatureOk);
  assert.equal(JSON.parse(connect.body.toString('utf8')).claims.nameid, 'vic');
  const got = collect(c, 'm');
  const r = await rest(service.baseUrl, KEY, 'POST', '/api/hubs/chat/groups/vip/:send', {
    body: { target: 'm', arguments: ['for vips'] },
  });
  assert.equal(r.status, 202);
  await waitFor(() => got.length === 1, 5_000, 'the group send to the connect event group');
  // connect comes before connected.
  const paths = forConnection(c.connectionId).map((s) => s.path);
  assert.deepEqual(paths.slice(0, 2), ['/chat/connections/connect', '/chat/connections/connected']);
});

test('the connect event sets the user id: UserIdentifier upstream, user sends, user groups and checks use it', async () => {
  const c = await client('chat', 'alias');
  assert.deepEqual(await c.invoke('echo', 'who'), ['who']);
  const mine = forConnection(c.connectionId);
  const connect = mine.find((s) => s.path === '/chat/connections/connect')!;
  assert.equal(connect.headers['x-asrs-user-id'], 'alias', 'the connect event has the token user');
  for (const path of ['/chat/connections/connected', '/chat/messages/echo']) {
    const entry = mine.find((s) => s.path === path)!;
    assert.equal(entry.headers['x-asrs-user-id'], 'renamed', `${path} has the user the upstream set`);
  }
  const call = (method: string, path: string, body?: unknown) =>
    rest(service.baseUrl, KEY, method, path, body === undefined ? {} : { body });
  assert.equal((await call('HEAD', '/api/hubs/chat/users/renamed')).status, 200);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/alias')).status, 404);
  const got = collect(c, 'm');
  assert.equal(
    (await call('POST', '/api/hubs/chat/users/alias/:send', { target: 'm', arguments: ['old'] })).status,
    202,
  );
  assert.equal(
    (await call('POST', '/api/hubs/chat/users/renamed/:send', { target: 'm', arguments: ['new'] })).status,
    202,
  );
  await waitFor(() => got.length === 1, 5_000, 'the send to the user the upstream set');
  assert.equal(
    (await rest(service.baseUrl, KEY, 'PUT', '/api/hubs/chat/users/renamed/groups/team', { query: 'ttl=60' }))
      .status,
    200,
  );
  assert.equal(
    (await call('POST', '/api/hubs/chat/groups/team/:send', { target: 'm', arguments: ['team'] })).status,
    202,
  );
  await waitFor(() => got.length === 2, 5_000, 'the send to the user group');
  assert.deepEqual(got, [['new'], ['team']]);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/renamed/groups/team')).status, 200);
  // A userId that is not a string refuses the connection with a clear error.
  const url = `${service.baseUrl}/client/?hub=chat`;
  const { connectClient } = await import('@switchboard/testkit');
  const { signToken } = await import('./helpers.ts');
  const bad = await connectClient(url, {
    noStart: true,
    accessTokenFactory: () => signToken(KEY, { nameid: 'bad-user' }, { audience: url }),
  });
  assert.match(await refusalOf(bad), /userId must be a string of 1 to 1024 characters/);
});

test('a connected event that fails is retried, and the invocations wait for it', async () => {
  const c = await client('plain', 'flaky');
  assert.deepEqual(await c.invoke('echo', 'after retry'), ['after retry']);
  const paths = forConnection(c.connectionId).map((s) => s.path);
  assert.deepEqual(paths, [
    '/plain/connections/connected',
    '/plain/connections/connected',
    '/plain/messages/echo',
  ]);
});
