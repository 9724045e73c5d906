// Bad input on the HTTP transports: POSTs to unknown or closed connections, a POST body over the
// size limit, malformed MessagePack in a POST, a forged connection id. Each gets a clear answer,
// and the other connections (and the offending one, where it survives) go on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DefaultHttpClient,
  HttpClient,
  type HttpRequest,
  HttpResponse,
  HttpTransportType,
  NullLogger,
} from '@microsoft/signalr';
import { CounterMetrics, Hub } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { http, negotiated } from './http-transport-helpers.ts';

class EchoHub extends Hub {
  echo(value: unknown) {
    return value;
  }
}

/** An official-client HTTP client that swaps the negotiated token for the public connection id. */
class ForgingHttpClient extends HttpClient {
  private readonly inner = new DefaultHttpClient(NullLogger.instance);
  override async send(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.inner.send(request);
    if (!request.url?.includes('/negotiate')) return response;
    const body = JSON.parse(response.content as string) as Record<string, unknown>;
    body.connectionToken = body.connectionId;
    return new HttpResponse(response.statusCode, response.statusText ?? '', JSON.stringify(body));
  }
}

const LIMIT = 64 * 1024;

describe('bad input on the HTTP transports', () => {
  let server: TestServer;
  let hubUrl: string;
  const metrics = new CounterMetrics();
  before(async () => {
    server = await startTestServer((hubs) => hubs.mapHub('/bad', EchoHub), {
      metrics,
      maxWebSocketFrameSize: LIMIT,
      maximumReceiveMessageSize: 1024 * 1024,
    });
    hubUrl = `${server.baseUrl}/bad`;
  });
  after(() => server.close());

  for (const transport of [HttpTransportType.ServerSentEvents, HttpTransportType.LongPolling]) {
    const name = HttpTransportType[transport];

    test(`${name}: a POST body over the limit gets 413; the invoke rejects, the connection goes on`, {
      timeout: 15_000,
    }, async () => {
      const bystander = await connectClient(hubUrl, { transport });
      const client = await connectClient(hubUrl, { transport });
      try {
        const before = metrics.snapshot().errors.SB_ERR_PAYLOAD_TOO_LARGE ?? 0;
        await assert.rejects(client.invoke('echo', 'x'.repeat(LIMIT + 1)), /Payload Too Large|413/);
        assert.equal(metrics.snapshot().errors.SB_ERR_PAYLOAD_TOO_LARGE, before + 1);
        assert.equal(await client.invoke('echo', 'still here'), 'still here');
        assert.equal(await bystander.invoke('echo', 'unaffected'), 'unaffected');
      } finally {
        await Promise.all([client.stop(), bystander.stop()]);
      }
    });

    test(`${name}: a forged id (the public id instead of the token) fails to start`, {
      timeout: 15_000,
    }, async () => {
      await assert.rejects(connectClient(hubUrl, { transport, httpClient: new ForgingHttpClient() }));
    });
  }

  test('POST to an unknown id, to a closed connection, and without an id', { timeout: 10_000 }, async () => {
    assert.deepEqual(
      await http(`${hubUrl}?id=AAAAAAAAAAAAAAAAAAAAAA`, { method: 'POST', body: '{"type":6}\x1e' }).then(
        (r) => [r.status, r.text],
      ),
      [404, 'No Connection with that ID'],
    );
    assert.deepEqual(await http(hubUrl, { method: 'POST', body: 'x' }).then((r) => [r.status, r.text]), [
      400,
      'Connection ID required',
    ]);
    const { token } = await negotiated(hubUrl);
    const url = `${hubUrl}?id=${token}`;
    await http(url);
    await http(url, { method: 'DELETE' });
    assert.equal((await http(url, { method: 'POST', body: '{"type":6}\x1e' })).status, 404);
    // Negotiated, but no transport started yet.
    const fresh = await negotiated(hubUrl);
    const early = await http(`${hubUrl}?id=${fresh.token}`, { method: 'POST', body: '{"type":6}\x1e' });
    assert.equal(early.status, 400);
  });

  test('a declared Content-Length over the limit is refused before the body is read', {
    timeout: 10_000,
  }, async () => {
    const { token } = await negotiated(hubUrl);
    const url = `${hubUrl}?id=${token}`;
    await http(url);
    const reply = await http(url, { method: 'POST', body: Buffer.alloc(LIMIT * 2, 0x41) });
    assert.equal(reply.status, 413);
    assert.equal(reply.text, `The request body is larger than ${LIMIT} bytes.`);
  });

  test('malformed MessagePack in a POST closes that connection with an error Close; others go on', {
    timeout: 10_000,
  }, async () => {
    const bystander = await connectClient(hubUrl, { transport: HttpTransportType.LongPolling });
    try {
      const { token } = await negotiated(hubUrl);
      const url = `${hubUrl}?id=${token}`;
      await http(url);
      await http(url, { method: 'POST', body: '{"protocol":"messagepack","version":1}\x1e' });
      const handshake = await http(url);
      assert.equal(handshake.text, '{}\x1e');
      // A length prefix of 3 followed by bytes that are no MessagePack array.
      const garbage = Buffer.from([0x03, 0xc1, 0xc1, 0xc1]);
      const posted = await http(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: garbage,
      });
      assert.equal(posted.status, 200);
      const close = await http(url);
      assert.equal(close.status, 200);
      assert.ok(
        close.body.includes(Buffer.from('Connection closed with an error.')),
        close.body.toString('hex'),
      );
      assert.equal((await http(url)).status, 204);
      await waitFor(() => (metrics.snapshot().errors.SB_ERR_PROTOCOL_VIOLATION ?? 0) > 0, 2_000, 'the count');
      assert.equal(await bystander.invoke('echo', 'fine'), 'fine');
    } finally {
      await bystander.stop();
    }
  });
});
