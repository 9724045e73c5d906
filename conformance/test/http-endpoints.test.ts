// The reference app's plain HTTP endpoints: negotiate redirect, failing negotiate, the HTTP
// redirect to /echo, negotiate cookies, CORS, and which endpoints exist
// (docs/protocol.md#negotiate-redirect, docs/protocol.md#negotiate-errors, docs/protocol.md#cors,
// docs/protocol.md#cookies, docs/protocol.md#conformance).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { type ConformanceServer, noWebSocketsTransports } from '@switchboard/conformance';
import { SUPPORTED_TRANSPORTS } from '@switchboard/server';
import { connect, startQuietServer } from './helpers.ts';

let server: ConformanceServer;

before(async () => {
  server = await startQuietServer();
});

after(async () => {
  await server.close();
});

const post = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers });

test('the client follows the /redirect negotiate to /testHub; GetNumRedirects counts the calls', async () => {
  const url = `/redirect?numRedirects=0&baseUrl=${encodeURIComponent(server.url)}`;
  const first = await connect(server, url);
  const second = await connect(server, url);
  try {
    const [a, b] = [await first.invoke('GetNumRedirects'), await second.invoke('GetNumRedirects')];
    assert.ok(Number.isInteger(a) && a >= 1, `first count ${a}`);
    assert.equal(b, a + 1);
    assert.equal(await first.invoke('GetActiveTransportName'), 'WebSockets');
  } finally {
    await Promise.all([first.stop(), second.stop()]);
  }
});

test('POST /redirect/negotiate answers the reference JSON and needs baseUrl', async () => {
  const response = await post('/redirect/negotiate?negotiateVersion=1&baseUrl=http://elsewhere:1');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { url: string };
  assert.match(body.url, /^http:\/\/elsewhere:1\/testHub\?numRedirects=\d+$/);
  assert.deepEqual(Object.keys(body), ['url']);
  const missing = await post('/redirect/negotiate');
  assert.equal(missing.status, 400);
});

test('/bad-negotiate fails the client start with the body text', async () => {
  await assert.rejects(connect(server, '/bad-negotiate'), {
    message:
      "Failed to complete negotiation with the server: Error: Some response from server: Status code '400'",
  });
  const response = await post('/bad-negotiate/negotiate?negotiateVersion=1');
  assert.equal(response.status, 400);
  assert.equal(await response.text(), 'Some response from server');
});

test('/echoredirect answers 307 to the /echo path with the query kept', async () => {
  const response = await fetch(`${server.url}/echoredirect/negotiate?negotiateVersion=1&x=%20y`, {
    method: 'POST',
    redirect: 'manual',
  });
  assert.equal(response.status, 307);
  assert.equal(response.headers.get('location'), '/echo/negotiate?negotiateVersion=1&x=%20y');
  const upgrade = await rawUpgrade('/echoredirect?id=abc');
  assert.match(upgrade, /^HTTP\/1\.1 307 /);
  assert.match(upgrade, /\r\nLocation: \/echo\?id=abc\r\n/);
});

test('every negotiate response sets testCookie, testCookie2 and an expired expiredCookie', async () => {
  for (const path of [
    '/testhub/negotiate?negotiateVersion=1',
    '/authorizedhub/negotiate',
    '/bad-negotiate/negotiate',
  ]) {
    const cookies = (await post(path)).headers.getSetCookie();
    assert.equal(cookies.length, 3, path);
    assert.match(cookies[0]!, /^testCookie=testValue; path=\//);
    assert.match(cookies[1]!, /^testCookie2=testValue2; path=\//);
    const expires = /^expiredCookie=[^;]*; expires=([^;]+)/.exec(cookies[2]!);
    assert.ok(expires, cookies[2]);
    assert.ok(Date.parse(expires[1]!) < Date.now(), 'expiredCookie is already expired');
    for (const cookie of cookies) assert.doesNotMatch(cookie, /secure|samesite/i, 'plain HTTP: no Secure');
  }
  const other = await fetch(`${server.url}/generateJwtToken`);
  assert.deepEqual(other.headers.getSetCookie(), []);
});

test('CORS: the Origin is echoed with credentials, and OPTIONS preflights get 204', async () => {
  const origin = 'http://localhost:9876';
  const preflight = await fetch(`${server.url}/testhub/negotiate?negotiateVersion=1`, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'x-requested-with,x-signalr-user-agent,authorization',
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
  assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
  assert.equal(
    preflight.headers.get('access-control-allow-headers'),
    'x-requested-with,x-signalr-user-agent,authorization',
  );
  for (const path of [
    '/testhub/negotiate?negotiateVersion=1',
    '/authorizedhub/negotiate',
    '/bad-negotiate/negotiate',
  ]) {
    const response = await post(path, { Origin: origin });
    assert.equal(response.headers.get('access-control-allow-origin'), origin, path);
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true', path);
  }
  const token = await fetch(`${server.url}/generateJwtToken`, { headers: { Origin: origin } });
  assert.equal(token.headers.get('access-control-allow-origin'), origin);
  const noOrigin = await post('/testhub/negotiate?negotiateVersion=1');
  assert.equal(noOrigin.headers.get('access-control-allow-origin'), null);
});

test('/testhub-nowebsockets is mapped only once the server has ServerSentEvents or LongPolling', async () => {
  const expected = SUPPORTED_TRANSPORTS.filter((t) => t !== 'WebSockets');
  assert.deepEqual(noWebSocketsTransports(), expected.length > 0 ? expected : undefined);
  assert.deepEqual(noWebSocketsTransports(['WebSockets', 'ServerSentEvents', 'LongPolling']), [
    'ServerSentEvents',
    'LongPolling',
  ]);
  const response = await post('/testhub-nowebsockets/negotiate?negotiateVersion=1');
  if (expected.length === 0) {
    assert.equal(response.status, 404);
    assert.equal(server.noWebSocketsTransports, undefined);
  } else {
    const body = (await response.json()) as { availableTransports: { transport: string }[] };
    assert.deepEqual(
      body.availableTransports.map((t) => t.transport),
      expected,
    );
  }
});

test('/echo negotiates like a hub; /uncreatable is absent; /clientresult needs a connection id', async () => {
  assert.equal((await post('/echo/negotiate?negotiateVersion=1')).status, 200);
  assert.equal((await post('/uncreatable/negotiate?negotiateVersion=1')).status, 404);
  assert.equal((await fetch(`${server.url}/clientresult`)).status, 404);
  assert.equal((await fetch(`${server.url}/clientresult/a/b`)).status, 404);
  const unknown = await fetch(`${server.url}/clientresult/abc`);
  assert.equal(unknown.status, 200);
  assert.equal(await unknown.text(), "Connection 'abc' does not exist.");
});

/** Sends a WebSocket upgrade request by hand and returns the raw response head. */
function rawUpgrade(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(server.port, '127.0.0.1', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

test('GET /lib/signalr-webworker/signalr.js serves the installed client web-worker bundle', async () => {
  const response = await fetch(`${server.url}/lib/signalr-webworker/signalr.js`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/javascript/);
  const file = createRequire(import.meta.url).resolve('@microsoft/signalr/dist/webworker/signalr.js');
  assert.equal(await response.text(), readFileSync(file, 'utf8'));
  assert.equal((await fetch(`${server.url}/lib/other.js`)).status, 404);
});
