// Transport requests on the hub path (docs/protocol.md#endpoints, docs/protocol.md#connections,
// docs/protocol.md#websockets): the WebSocket
// upgrade by token, skipNegotiation, refusals with the reference's statuses and texts, and the
// sweep of negotiated connections nobody uses.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  DefaultHttpClient,
  HttpClient,
  type HttpRequest,
  HttpResponse,
  HttpTransportType,
  NullLogger,
} from '@microsoft/signalr';
import { Hub } from '@switchboard/server';
import {
  connectClient,
  ManualTimeProvider,
  negotiate,
  RawClient,
  startTestServer,
  type TestServer,
  UpgradeRefusedError,
  waitFor,
} from '@switchboard/testkit';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
  connectionIdOf() {
    return this.context.connectionId;
  }
}

/** An official-client HTTP client that replaces the negotiated token with one the server never issued. */
class ForgingHttpClient extends HttpClient {
  private readonly inner = new DefaultHttpClient(NullLogger.instance);
  override async send(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.inner.send(request);
    if (!request.url?.includes('/negotiate')) return response;
    const body = JSON.parse(response.content as string) as Record<string, unknown>;
    body.connectionToken = 'AAAAAAAAAAAAAAAAAAAAAA';
    return new HttpResponse(response.statusCode, response.statusText ?? '', JSON.stringify(body));
  }
}

async function refusal(promise: Promise<unknown>): Promise<UpgradeRefusedError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpgradeRefusedError) return error;
    throw error;
  }
  assert.fail('the upgrade was accepted');
}

async function plain(
  url: string,
  init: RequestInit,
): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(url, init);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe('transport requests', () => {
  let server: TestServer;
  let hubUrl: string;
  before(async () => {
    server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub));
    hubUrl = `${server.baseUrl}/echo`;
  });
  after(() => server.close());

  test('an upgrade with an unknown id gets 404 before the upgrade', async () => {
    const error = await refusal(RawClient.connect(hubUrl, { id: 'AAAAAAAAAAAAAAAAAAAAAA' }));
    assert.equal(error.status, 404);
    assert.equal(error.body, 'No Connection with that ID');
  });

  test('the official client fails to start when its upgrade gets 404', async () => {
    await assert.rejects(
      connectClient(hubUrl, { httpClient: new ForgingHttpClient(), transport: HttpTransportType.WebSockets }),
      /WebSocket failed to connect|Unable to connect/,
    );
  });

  test('skipNegotiation with WebSockets creates the connection at the upgrade; connectionId is null', async () => {
    const before = server.hubs.connectionCount;
    const client = await connectClient(hubUrl, {
      skipNegotiation: true,
      transport: HttpTransportType.WebSockets,
    });
    assert.equal(client.connectionId, null);
    assert.equal(await client.invoke('echo', 'direct'), 'direct');
    assert.match(await client.invoke<string>('connectionIdOf'), /^[A-Za-z0-9_-]{22}$/);
    assert.equal(server.hubs.connectionCount, before + 1);
    await client.stop();
    await waitFor(() => server.hubs.connectionCount === before, 2_000, 'the connection to go');
  });

  test('the public connectionId is not a token: using it as id gets 404', async () => {
    const body = (await negotiate(hubUrl)).json!;
    const error = await refusal(RawClient.connect(hubUrl, { id: body.connectionId as string }));
    assert.equal(error.status, 404);
    // The real token still works afterwards.
    const raw = await RawClient.connect(hubUrl, { id: body.connectionToken as string });
    assert.equal((await raw.invoke('echo', ['x'])).type, 3);
    raw.close();
    await raw.waitForClose();
  });

  test('a second upgrade with the same token gets 409', async () => {
    const first = await RawClient.connect(hubUrl);
    const error = await refusal(RawClient.connect(hubUrl, { id: first.connectionToken! }));
    assert.equal(error.status, 409);
    // The first connection is untouched.
    assert.equal((await first.invoke('echo', ['still here'])).type, 3);
    first.close();
    await first.waitForClose();
  });

  test('an upgrade for a connection that ended gets 404', async () => {
    const count = server.hubs.connectionCount;
    const raw = await RawClient.connect(hubUrl);
    assert.equal(server.hubs.connectionCount, count + 1);
    raw.close();
    await raw.waitForClose();
    await waitFor(() => server.hubs.connectionCount === count, 2_000, 'the connection to be disposed');
    const error = await refusal(RawClient.connect(hubUrl, { id: raw.connectionToken! }));
    assert.equal(error.status, 404);
  });

  test('POST and DELETE with the token of a WebSocket connection: 405 and 400 with the reference texts', async () => {
    const raw = await RawClient.connect(hubUrl);
    const url = `${hubUrl}?id=${raw.connectionToken}`;
    assert.deepEqual(await plain(url, { method: 'POST', body: '{"type":6}\x1e' }), {
      status: 405,
      type: 'text/plain',
      body: 'POST requests are not allowed for WebSocket connections.',
    });
    assert.deepEqual(await plain(url, { method: 'DELETE' }), {
      status: 400,
      type: 'text/plain',
      body: 'Cannot terminate this connection using the DELETE endpoint.',
    });
    // Neither request disturbed the connection.
    assert.equal((await raw.invoke('echo', ['alive'])).type, 3);
    raw.close();
    await raw.waitForClose();
  });

  test('POST and DELETE without an id get 400, with an unknown id 404', async () => {
    for (const method of ['POST', 'DELETE']) {
      assert.deepEqual(await plain(hubUrl, { method }), {
        status: 400,
        type: 'text/plain',
        body: 'Connection ID required',
      });
      assert.deepEqual(await plain(`${hubUrl}?id=nope`, { method }), {
        status: 404,
        type: 'text/plain',
        body: 'No Connection with that ID',
      });
    }
  });

  test('GET without an upgrade asks for a transport this endpoint does not offer: 404', async () => {
    const wsOnly = await startTestServer((hubs) =>
      hubs.mapHub('/echo', EchoHub, { transports: ['WebSockets'] }),
    );
    try {
      const url = `${wsOnly.baseUrl}/echo`;
      const body = (await negotiate(url)).json!;
      assert.deepEqual(body.availableTransports, [
        { transport: 'WebSockets', transferFormats: ['Text', 'Binary'] },
      ]);
      assert.deepEqual(await plain(`${url}?id=${body.connectionToken}`, { method: 'GET' }), {
        status: 404,
        type: 'text/plain',
        body: 'LongPolling transport not supported by this end point type',
      });
      const sse = await plain(`${url}?id=${body.connectionToken}`, {
        method: 'GET',
        headers: { accept: 'text/event-stream' },
      });
      assert.equal(sse.status, 404);
      assert.equal(sse.body, 'ServerSentEvents transport not supported by this end point type');
    } finally {
      await wsOnly.close();
    }
  });

  test('PUT, PATCH and the like get 405', async () => {
    for (const method of ['PUT', 'PATCH']) {
      const reply = await plain(`${hubUrl}?id=x`, { method, body: 'x' });
      assert.equal(reply.status, 405, method);
      assert.equal(reply.type, 'text/plain');
    }
  });
});

/** Sends an upgrade request that `ws` refuses by itself (an unsupported WebSocket version). */
function badUpgrade(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    let reply = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('close', () => resolve(reply.split('\r\n')[0]!));
    socket.on('error', reject);
  });
}

describe('an upgrade that ws refuses', () => {
  test('gives the connection back: its token still works, and unused it is swept', async () => {
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), { timeProvider: time });
    const hubUrl = `${server.baseUrl}/echo`;
    try {
      const used = (await negotiate(hubUrl)).json!.connectionToken as string;
      const unused = (await negotiate(hubUrl)).json!.connectionToken as string;
      assert.equal(await badUpgrade(server.port, `/echo?id=${used}`), 'HTTP/1.1 400 Bad Request');
      assert.equal(await badUpgrade(server.port, `/echo?id=${unused}`), 'HTTP/1.1 400 Bad Request');
      assert.equal(await badUpgrade(server.port, '/echo'), 'HTTP/1.1 400 Bad Request');
      assert.equal(server.hubs.connectionCount, 2, 'a refused skipNegotiation upgrade leaves nothing');
      const raw = await RawClient.connect(hubUrl, { id: used }); // not 409
      time.advance(15_000);
      assert.equal(server.hubs.connectionCount, 1, 'the unused one is swept, the used one stays');
      assert.equal((await raw.invoke('echo', ['ok'])).type, 3);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });
});

describe('the disconnect timeout', () => {
  test('a negotiated connection that no transport takes is swept after disconnectTimeoutMs', async () => {
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      timeProvider: time,
      disconnectTimeoutMs: 15_000,
    });
    try {
      const body = (await negotiate(`${server.baseUrl}/echo`)).json!;
      assert.equal(server.hubs.connectionCount, 1);
      time.advance(14_000);
      assert.equal(server.hubs.connectionCount, 1, 'kept before the timeout');
      time.advance(1_000);
      assert.equal(server.hubs.connectionCount, 0, 'swept at the timeout');
      const error = await refusal(
        RawClient.connect(`${server.baseUrl}/echo`, { id: body.connectionToken as string }),
      );
      assert.equal(error.status, 404);
    } finally {
      await server.close();
    }
  });

  test('a connection in use is not swept, however long it lives', async () => {
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      timeProvider: time,
      keepAliveIntervalMs: 1_000_000,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/echo`);
      time.advance(60_000);
      assert.equal(server.hubs.connectionCount, 1);
      assert.equal((await raw.invoke('echo', ['late'])).type, 3);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });

  test('with real timers and small options the sweep happens on its own', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
      heartbeatIntervalMs: 20,
      disconnectTimeoutMs: 100,
    });
    try {
      await negotiate(`${server.baseUrl}/echo`);
      assert.equal(server.hubs.connectionCount, 1);
      await waitFor(() => server.hubs.connectionCount === 0, 2_000, 'the sweep');
    } finally {
      await server.close();
    }
  });
});
