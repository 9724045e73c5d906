// CORS from an allowlist, the origin check on negotiate, transport requests and upgrades, and the
// negotiate limits (pending-connection cap, per-IP rate with trusted proxies), each with the text
// the official client reports and the metrics counted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { CounterMetrics, Hub } from '@switchboard/server';
import {
  connectClient,
  ManualTimeProvider,
  RawClient,
  startTestServer,
  type TestServer,
  UpgradeRefusedError,
} from '@switchboard/testkit';
import { http, negotiated } from './http-transport-helpers.ts';

class EchoHub extends Hub {
  echo(value: unknown) {
    return value;
  }
}

const ALLOWED = 'https://app.example.com';
const OTHER = 'https://evil.example.net';

describe('CORS from an allowlist', () => {
  let server: TestServer;
  let hubUrl: string;
  const metrics = new CounterMetrics();
  before(async () => {
    server = await startTestServer((hubs) => hubs.mapHub('/cors', EchoHub), {
      metrics,
      cors: { origins: [`${ALLOWED}/`], allowedHeaders: ['X-Custom'], maxAgeSeconds: 600 },
    });
    hubUrl = `${server.baseUrl}/cors`;
  });
  after(() => server.close());

  test('a listed origin is echoed with credentials and Vary: Origin', async () => {
    const reply = await http(`${hubUrl}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { origin: ALLOWED },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(reply.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(reply.headers.get('vary'), 'Origin');
  });

  test('an unlisted origin gets 403 in plain text and no CORS headers; counted', async () => {
    const before = metrics.snapshot().errors.SB_ERR_ORIGIN_NOT_ALLOWED ?? 0;
    const reply = await http(`${hubUrl}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { origin: OTHER },
    });
    assert.equal(reply.status, 403);
    assert.equal(reply.text, 'Origin not allowed.');
    assert.equal(reply.headers.get('content-type'), 'text/plain');
    assert.equal(reply.headers.get('access-control-allow-origin'), null);
    assert.equal(metrics.snapshot().errors.SB_ERR_ORIGIN_NOT_ALLOWED, before + 1);
  });

  test("the server's own origin and requests without Origin (Node clients) pass", async () => {
    const own = await http(`${hubUrl}/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { origin: server.baseUrl },
    });
    assert.equal(own.status, 200);
    const client = await connectClient(hubUrl);
    assert.equal(await client.invoke('echo', 'node'), 'node');
    await client.stop();
  });

  test('preflights: 204 echoing the method and the allowed headers, Max-Age; an unlisted origin 403', async () => {
    const preflight = await http(`${hubUrl}/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers':
          'x-requested-with, x-signalr-user-agent, authorization, content-type, x-custom, x-unknown',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(
      preflight.headers.get('access-control-allow-headers'),
      'x-requested-with, x-signalr-user-agent, authorization, content-type, x-custom',
    );
    assert.equal(preflight.headers.get('access-control-max-age'), '600');
    // On the hub path too (POST sends, polls, DELETE).
    const onHub = await http(`${hubUrl}?id=x`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED, 'access-control-request-method': 'DELETE' },
    });
    assert.equal(onHub.status, 204);
    assert.equal(onHub.headers.get('access-control-allow-methods'), 'DELETE');
    const refused = await http(hubUrl, {
      method: 'OPTIONS',
      headers: { origin: OTHER, 'access-control-request-method': 'GET' },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.text, 'Origin not allowed.');
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
  });

  test('an unlisted Origin is refused on the WebSocket upgrade, the event stream, polls and POSTs', async () => {
    await assert.rejects(RawClient.connect(hubUrl, { headers: { origin: OTHER } }), (error: unknown) => {
      assert.ok(error instanceof UpgradeRefusedError);
      assert.equal(error.status, 403);
      return true;
    });
    const ok = await RawClient.connect(hubUrl, { headers: { origin: ALLOWED } });
    ok.close();
    await ok.waitForClose();
    const { token } = await negotiated(hubUrl);
    for (const init of [
      { headers: { origin: OTHER, accept: 'text/event-stream' } },
      { headers: { origin: OTHER } },
      { method: 'POST', headers: { origin: OTHER }, body: '{}' },
    ] as RequestInit[]) {
      const reply = await http(`${hubUrl}?id=${token}`, init);
      assert.equal(reply.status, 403, JSON.stringify(init));
    }
  });
});

describe('CORS with checkOrigin off and with a predicate', () => {
  test('checkOrigin: false lets unlisted origins through without CORS headers', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/cors', EchoHub), {
      cors: { origins: (origin) => origin.endsWith('.example.com'), credentials: false },
      checkOrigin: false,
    });
    try {
      const listed = await http(`${server.baseUrl}/cors/negotiate`, {
        method: 'POST',
        headers: { origin: ALLOWED },
      });
      assert.equal(listed.headers.get('access-control-allow-origin'), ALLOWED);
      assert.equal(listed.headers.get('access-control-allow-credentials'), null);
      const other = await http(`${server.baseUrl}/cors/negotiate`, {
        method: 'POST',
        headers: { origin: OTHER },
      });
      assert.equal(other.status, 200);
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const ws = await RawClient.connect(`${server.baseUrl}/cors`, { headers: { origin: OTHER } });
      ws.close();
      await ws.waitForClose();
    } finally {
      await server.close();
    }
  });

  test('without cors nothing changes: no headers, OPTIONS is 405', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/cors', EchoHub));
    try {
      const reply = await http(`${server.baseUrl}/cors/negotiate`, {
        method: 'POST',
        headers: { origin: OTHER },
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('access-control-allow-origin'), null);
      const options = await http(`${server.baseUrl}/cors`, {
        method: 'OPTIONS',
        headers: { origin: OTHER, 'access-control-request-method': 'GET' },
      });
      assert.equal(options.status, 405);
    } finally {
      await server.close();
    }
  });
});

describe('negotiate limits', () => {
  test('maxInactiveConnections: a negotiate beyond the cap gets 503, as the client reports it; using one frees a place', async () => {
    const time = new ManualTimeProvider();
    const metrics = new CounterMetrics();
    const server = await startTestServer((hubs) => hubs.mapHub('/capped', EchoHub), {
      maxInactiveConnections: 2,
      timeProvider: time,
      metrics,
    });
    const url = `${server.baseUrl}/capped`;
    try {
      const first = await negotiated(url);
      await negotiated(url);
      const refused = await http(`${url}/negotiate?negotiateVersion=1`, { method: 'POST' });
      assert.deepEqual([refused.status, refused.text], [503, 'Too many pending connections.']);
      assert.equal(refused.headers.get('retry-after'), '1');
      await assert.rejects(connectClient(url), {
        message:
          "Failed to complete negotiation with the server: Error: Too many pending connections.: Status code '503'",
      });
      assert.equal(metrics.snapshot().errors.SB_ERR_TOO_MANY_PENDING_CONNECTIONS, 2);
      // A connection that starts is no longer pending.
      const raw = await RawClient.connect(url, { id: first.token });
      const client = await connectClient(url, { transport: HttpTransportType.LongPolling });
      assert.equal(await client.invoke('echo', 'in'), 'in');
      await client.stop();
      raw.close();
      await raw.waitForClose();
      // The unused one is swept after the disconnect timeout, which frees its place too.
      time.advance(15_000);
      await negotiated(url);
      await negotiated(url);
    } finally {
      await server.close();
    }
  });

  test('negotiateRateLimit: per client IP, 429 as the client reports it; X-Forwarded-For only from trusted proxies', async () => {
    const time = new ManualTimeProvider();
    const metrics = new CounterMetrics();
    const server = await startTestServer((hubs) => hubs.mapHub('/rated', EchoHub), {
      negotiateRateLimit: { perSecond: 1, burst: 2 },
      timeProvider: time,
      metrics,
    });
    const url = `${server.baseUrl}/rated`;
    const post = (headers: Record<string, string> = {}) =>
      http(`${url}/negotiate?negotiateVersion=1`, { method: 'POST', headers });
    try {
      assert.equal((await post()).status, 200);
      assert.equal((await post({ 'x-forwarded-for': '203.0.113.1' })).status, 200);
      const refused = await post({ 'x-forwarded-for': '203.0.113.2' });
      assert.deepEqual([refused.status, refused.text], [429, 'Too many negotiate requests.']);
      await assert.rejects(connectClient(url), {
        message:
          "Failed to complete negotiation with the server: Error: Too many negotiate requests.: Status code '429'",
      });
      time.advance(1_000);
      assert.equal((await post()).status, 200, 'a token back after a second');
      assert.equal((await post()).status, 429);
      assert.equal(metrics.snapshot().errors.SB_ERR_NEGOTIATE_RATE_LIMITED, 3);
    } finally {
      await server.close();
    }
    for (const trustProxy of [1, ['127.0.0.1']] as const) {
      const proxied = await startTestServer((hubs) => hubs.mapHub('/rated', EchoHub), {
        negotiateRateLimit: { perSecond: 1, burst: 1 },
        timeProvider: new ManualTimeProvider(),
        trustProxy,
      });
      try {
        const at = (ip: string) =>
          http(`${proxied.baseUrl}/rated/negotiate`, {
            method: 'POST',
            headers: { 'x-forwarded-for': `198.51.100.9, ${ip}` },
          });
        assert.equal((await at('203.0.113.1')).status, 200);
        assert.equal(
          (await at('203.0.113.2')).status,
          200,
          `another client behind the proxy (${trustProxy})`,
        );
        assert.equal((await at('203.0.113.1')).status, 429);
      } finally {
        await proxied.close();
      }
    }
  });
});
