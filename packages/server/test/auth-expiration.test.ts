// Tokens that expire while a connection is open: closeOnAuthenticationExpiration
// (docs/protocol.md#auth-expiration: a Close that allows reconnecting, so the client comes back with a
// fresh token), and the 401 that makes the official client fetch a fresh token and retry a long poll
// or a POST (docs/protocol.md#token-refresh).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DefaultHttpClient,
  HttpClient,
  HttpError,
  type HttpRequest,
  HttpResponse,
  HttpTransportType,
  NullLogger,
} from '@microsoft/signalr';
import { MessageType } from '@switchboard/protocol';
import { Hub, type HubMetrics, jwtBearerAuthenticator, noopMetrics, signJwt } from '@switchboard/server';
import {
  connectClient,
  deferred,
  negotiate,
  RawClient,
  startTestServer,
  type TestServer,
  waitFor,
} from '@switchboard/testkit';

const secret = 'expiry-test-secret';
const disconnects: { id: string; error: Error | undefined }[] = [];
const errors: { hub: string; code: string }[] = [];

class ExpiringHub extends Hub {
  who() {
    return this.context.userIdentifier ?? null;
  }
  id() {
    return this.context.connectionId;
  }
  override onDisconnected(error?: Error) {
    disconnects.push({ id: this.context.connectionId, error });
  }
}

const metrics: HubMetrics = {
  ...noopMetrics,
  error(hub, code) {
    errors.push({ hub, code });
  },
};

let server: TestServer;

before(async () => {
  server = await startTestServer(
    (hubs) => {
      hubs.mapHub('/expiring', ExpiringHub, { closeOnAuthenticationExpiration: true, authorize: true });
      hubs.mapHub('/expiring-open', ExpiringHub, { closeOnAuthenticationExpiration: true });
      hubs.mapHub('/lenient', ExpiringHub, { authorize: true });
      hubs.mapHub('/expiring-stateful', ExpiringHub, {
        closeOnAuthenticationExpiration: true,
        allowStatefulReconnects: true,
      });
    },
    {
      authenticate: jwtBearerAuthenticator({ secret }),
      heartbeatIntervalMs: 100,
      longPollTimeoutMs: 400,
      metrics,
    },
  );
});
after(() => server.close());

const token = (sub: string, lifetimeSeconds: number) => signJwt({ sub }, secret, { lifetimeSeconds });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('closeOnAuthenticationExpiration', () => {
  test('when the token expires the server sends Close with allowReconnect and no error', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/expiring-open`, {
      headers: { Authorization: `Bearer ${token('kim', 2)}` },
      id: null,
    });
    const close = await raw.waitForMessage((m) => m.type === MessageType.Close, 4_000, 'the Close');
    assert.deepEqual(close, { type: MessageType.Close, allowReconnect: true });
    assert.equal((await raw.waitForClose()).code, 1000);
    assert.ok(errors.some((e) => e.code === 'SB_ERR_AUTHENTICATION_EXPIRED'));
  });

  test('an anonymous connection and a hub without the option are not closed', async () => {
    const anonymous = await RawClient.connect(`${server.baseUrl}/expiring-open`, { id: null });
    const lenient = await RawClient.connect(`${server.baseUrl}/lenient`, {
      headers: { Authorization: `Bearer ${token('lee', 2)}` },
      id: null,
    });
    await sleep(2_300);
    assert.equal(anonymous.isClosed, false);
    assert.equal(lenient.isClosed, false);
    assert.equal(anonymous.ofType(MessageType.Close).length + lenient.ofType(MessageType.Close).length, 0);
    anonymous.close();
    lenient.close();
  });

  test("a stateful reconnect's fresh token replaces the expiring one", async () => {
    const hub = `${server.baseUrl}/expiring-stateful`;
    const auth = (lifetime: number) => ({ Authorization: `Bearer ${token('liv', lifetime)}` });
    const reply = await negotiate(hub, 'negotiateVersion=1&useStatefulReconnect=true', { headers: auth(2) });
    const id = reply.json!.connectionToken as string;
    const raw = await RawClient.connect(hub, {
      id,
      headers: auth(2),
      handshake: '{"protocol":"json","version":2}\x1e',
    });
    await raw.handshake();
    raw.terminate();
    const resumed = await RawClient.connect(hub, { id, headers: auth(60), resumed: true });
    await sleep(2_300);
    assert.equal(resumed.isClosed, false);
    assert.equal(resumed.ofType(MessageType.Close).length, 0);
    resumed.close();
  });

  test('the official client with automatic reconnect comes back with a fresh token', async () => {
    let issued = 0;
    const client = await connectClient(`${server.baseUrl}/expiring`, {
      noStart: true,
      automaticReconnect: [0, 0, 0, 0, 0, 0, 0, 0],
      accessTokenFactory: () => {
        issued++;
        return token('max', 2);
      },
    });
    const reconnecting = deferred<Error | undefined>();
    const reconnected = deferred<string | undefined>();
    client.onreconnecting((error) => reconnecting.resolve(error));
    client.onreconnected((id) => reconnected.resolve(id));
    await client.start();
    const first = client.connectionId;
    const issuedAtStart = issued;
    assert.equal(await reconnecting.promise, undefined, 'a Close without an error');
    const second = await reconnected.promise;
    assert.notEqual(second, first);
    assert.ok(issued > issuedAtStart, 'a fresh token was asked for');
    assert.equal(await client.invoke('who'), 'max');
    await waitFor(() => disconnects.some((d) => d.id === first), 3_000, 'onDisconnected of the first');
    assert.equal(disconnects.find((d) => d.id === first)!.error, undefined);
    await client.stop();
  });
});

/**
 * The official client's default HTTP client throws on any status but 2xx, before its token layer
 * (AccessTokenHttpClient) can see the 401 and retry with a fresh token (docs/protocol.md#token-refresh); a
 * long poll or a POST
 * answered 401 then ends the connection, whichever server answers. An application that wants the
 * retry passes an `httpClient` that returns the 401 instead, as this one does.
 */
class ReturnUnauthorizedHttpClient extends HttpClient {
  private readonly inner = new DefaultHttpClient(NullLogger.instance);
  override async send(request: HttpRequest): Promise<HttpResponse> {
    try {
      return await this.inner.send(request);
    } catch (error) {
      if (error instanceof HttpError && error.statusCode === 401)
        return new HttpResponse(401, 'Unauthorized', '');
      throw error;
    }
  }
  override getCookieString(url: string): string {
    return this.inner.getCookieString(url);
  }
}

describe('401 on an expired token, then a fresh one', () => {
  test('a long-polling client with short-lived tokens gets fresh ones and carries on', async () => {
    let issued = 0;
    const unauthorizedBefore = errors.filter((e) => e.code === 'SB_ERR_UNAUTHORIZED').length;
    const client = await connectClient(`${server.baseUrl}/lenient`, {
      noStart: true,
      transport: HttpTransportType.LongPolling,
      httpClient: new ReturnUnauthorizedHttpClient(),
      accessTokenFactory: () => {
        issued++;
        // Valid for one to two seconds (exp is in whole seconds).
        return token('ana', 2);
      },
    });
    const closed = deferred<Error | undefined>();
    let isClosed = false;
    client.onclose((error) => {
      isClosed = true;
      closed.resolve(error);
    });
    await client.start();
    const id = await client.invoke('id');
    const issuedAtStart = issued;
    // Polls (every 400 ms) and POSTs go on past several token lifetimes.
    for (let i = 0; i < 10; i++) {
      await sleep(450);
      assert.equal(isClosed, false, `closed: ${String(await Promise.race([closed.promise, 'open']))}`);
      assert.equal(await client.invoke('who'), 'ana');
    }
    assert.equal(await client.invoke('id'), id, 'the same connection');
    assert.ok(issued > issuedAtStart + 1, `fresh tokens were asked for (${issued - issuedAtStart})`);
    const unauthorized = errors.filter((e) => e.code === 'SB_ERR_UNAUTHORIZED').length - unauthorizedBefore;
    assert.ok(unauthorized >= 1, 'expired tokens were refused with 401');
    await client.stop();
    assert.equal(await closed.promise, undefined);
  });

  test('with the default HTTP client a 401 ends the connection (the client does not retry then)', async () => {
    const client = await connectClient(`${server.baseUrl}/lenient`, {
      noStart: true,
      transport: HttpTransportType.LongPolling,
      accessTokenFactory: () => token('ida', 2),
    });
    const closed = deferred<Error | undefined>();
    client.onclose((error) => closed.resolve(error));
    await client.start();
    const timeout = sleep(6_000).then(() => 'still open');
    const outcome = await Promise.race([closed.promise, timeout]);
    assert.match(String(outcome), /Unauthorized: Status code '401'/);
  });

  test('a follow-up request without a token gets 401, with another user 403', async () => {
    const reply = await fetch(`${server.baseUrl}/lenient/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token('ben', 60)}` },
    });
    const { connectionToken } = (await reply.json()) as { connectionToken: string };
    const url = `${server.baseUrl}/lenient?id=${connectionToken}`;
    const first = await fetch(url, { headers: { Authorization: `Bearer ${token('ben', 60)}` } });
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const handshake = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token('ben', 60)}` },
      body: '{"protocol":"json","version":1}\x1e',
    });
    assert.equal(handshake.status, 200);
    const expired = signJwt({ sub: 'ben', exp: Math.floor(Date.now() / 1000) - 5 }, secret);
    const poll = await fetch(url, { headers: { Authorization: `Bearer ${expired}` } });
    assert.equal(poll.status, 401);
    assert.equal(await poll.text(), '');
    const post = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${expired}` },
      body: '{"type":6}\x1e',
    });
    assert.equal(post.status, 401);
    const other = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token('eve', 60)}` },
      body: '{"type":6}\x1e',
    });
    assert.equal(other.status, 403);
    await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${token('ben', 60)}` } });
  });
});
