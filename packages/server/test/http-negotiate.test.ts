// Negotiate (docs/protocol.md#endpoints, docs/protocol.md#negotiate): versions, the reply's shape and bytes,
// and the
// case-insensitive routing and query handling the official client relies on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import { Hub } from '@switchboard/server';
import { connectClient, negotiate, RawClient, startTestServer, type TestServer } from '@switchboard/testkit';
import { writeNegotiateReply } from '../src/http/negotiate.ts';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
  queryValue(key: string) {
    return this.context.request.query.get(key);
  }
}

const ID = /^[A-Za-z0-9_-]{22}$/;

describe('negotiate', () => {
  let server: TestServer;
  let hubUrl: string;
  before(async () => {
    server = await startTestServer((hubs) => hubs.mapHub('/echohub', EchoHub));
    hubUrl = `${server.baseUrl}/echohub`;
  });
  after(() => server.close());

  test('v1 answers 200 JSON with a 128-bit id and a different token, all three transports, exact Content-Length', async () => {
    const reply = await negotiate(hubUrl, 'negotiateVersion=1');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'application/json');
    assert.equal(Number(reply.headers.get('content-length')), Buffer.byteLength(reply.text));
    const body = reply.json!;
    assert.equal(body.negotiateVersion, 1);
    assert.match(body.connectionId as string, ID);
    assert.match(body.connectionToken as string, ID);
    assert.notEqual(body.connectionId, body.connectionToken);
    assert.equal(Buffer.from(body.connectionId as string, 'base64url').length, 16);
    assert.equal(Buffer.from(body.connectionToken as string, 'base64url').length, 16);
    // The reference's fallback order; Server-Sent Events carry text only (docs/protocol.md#negotiate-reply,
    // docs/protocol.md#transport-order).
    assert.deepEqual(body.availableTransports, [
      { transport: 'WebSockets', transferFormats: ['Text', 'Binary'] },
      { transport: 'ServerSentEvents', transferFormats: ['Text'] },
      { transport: 'LongPolling', transferFormats: ['Text', 'Binary'] },
    ]);
    assert.ok(
      !('ProtocolVersion' in body),
      'a ProtocolVersion field makes the client think of a legacy server',
    );
    assert.ok(!('useStatefulReconnect' in body));
    // The reference's field order.
    assert.deepEqual(Object.keys(body), [
      'negotiateVersion',
      'connectionId',
      'connectionToken',
      'availableTransports',
    ]);
  });

  test('every negotiate creates a new connection', async () => {
    const a = (await negotiate(hubUrl)).json!;
    const b = (await negotiate(hubUrl)).json!;
    assert.notEqual(a.connectionId, b.connectionId);
    assert.notEqual(a.connectionToken, b.connectionToken);
  });

  test('v0 (no negotiateVersion) has no token, and the id is what goes in ?id=', async () => {
    const reply = await negotiate(hubUrl, '');
    assert.equal(reply.status, 200);
    const body = reply.json!;
    assert.equal(body.negotiateVersion, 0);
    assert.match(body.connectionId as string, ID);
    assert.ok(!('connectionToken' in body));
    const raw = await RawClient.connect(hubUrl, { id: body.connectionId as string });
    const completion = await raw.invoke('echo', ['v0']);
    assert.equal(completion.type, MessageType.Completion);
    assert.equal((completion as CompletionMessage).result, 'v0');
    raw.close();
    await raw.waitForClose();
  });

  // int.TryParse: anything that is not a 32-bit integer, overflow included.
  for (const value of ['abc', '1.5', '1e0', '', '2147483648', '0x1']) {
    test(`a non-integer version ('${value}') gets a 200 error reply`, async () => {
      const reply = await negotiate(hubUrl, `negotiateVersion=${value}`);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('content-type'), 'application/json');
      assert.equal(reply.text, '{"error":"The client requested a non-integer protocol version."}');
    });
  }

  test('a negative version is below the minimum', async () => {
    const reply = await negotiate(hubUrl, 'negotiateVersion=-1');
    assert.equal(
      reply.text,
      `{"error":"The client requested version '-1', but the server does not support this version."}`,
    );
  });

  test('a version above the highest is clamped to 1', async () => {
    const body = (await negotiate(hubUrl, 'negotiateVersion=5')).json!;
    assert.equal(body.negotiateVersion, 1);
    assert.match(body.connectionToken as string, ID);
  });

  test('GET, PUT and DELETE on negotiate get 405', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await fetch(`${hubUrl}/negotiate?negotiateVersion=1`, { method });
      assert.equal(response.status, 405, method);
      await response.arrayBuffer();
    }
  });

  test('the path and the query keys match case-insensitively', async () => {
    const body = (await negotiate(`${server.baseUrl}/EchoHub`, 'NEGOTIATEVERSION=1')).json!;
    assert.equal(body.negotiateVersion, 1);
    assert.match(body.connectionToken as string, ID);
    const response = await fetch(`${server.baseUrl}/EchoHub/Negotiate?negotiateVersion=1`, {
      method: 'POST',
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { negotiateVersion: number }).negotiateVersion, 1);
    // And the official client connects through the differently cased URL.
    const client = await connectClient(`${server.baseUrl}/ECHOHUB`);
    assert.equal(await client.invoke('echo', 'cased'), 'cased');
    await client.stop();
  });

  test('a trailing slash on the hub URL still routes', async () => {
    const client = await connectClient(`${hubUrl}/`);
    assert.equal(await client.invoke('echo', 'slash'), 'slash');
    await client.stop();
  });

  test('extra query parameters of the hub URL survive negotiate and reach the hub', async () => {
    const reply = await negotiate(`${hubUrl}?tenant=acme`, 'negotiateVersion=1');
    assert.equal(reply.status, 200);
    const client = await connectClient(`${hubUrl}?tenant=acme&Region=eu%20west`);
    assert.equal(await client.invoke('queryValue', 'tenant'), 'acme');
    assert.equal(await client.invoke('queryValue', 'region'), 'eu west');
    await client.stop();
  });

  test('a path that is not a hub is left to the app (404 here)', async () => {
    const response = await fetch(`${server.baseUrl}/echohubx/negotiate?negotiateVersion=1`, {
      method: 'POST',
    });
    assert.equal(response.status, 404);
    await response.arrayBuffer();
  });
});

describe('negotiate with minimumNegotiateVersion 1', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), { minimumNegotiateVersion: 1 });
  });
  after(() => server.close());

  test('a v0 client gets the reference error', async () => {
    const reply = await negotiate(`${server.baseUrl}/echo`, '');
    assert.equal(reply.status, 200);
    assert.equal(
      reply.text,
      `{"error":"The client requested version '0', but the server does not support this version."}`,
    );
    assert.equal(server.hubs.connectionCount, 0, 'a refused negotiate creates no connection');
  });

  test('a v1 client (the official one) is served', async () => {
    const client = await connectClient(`${server.baseUrl}/echo`);
    assert.equal(await client.invoke('echo', 'ok'), 'ok');
    await client.stop();
  });
});

test('the negotiate reply lists the transports the same whether its list was written before or not', () => {
  const list = Object.freeze(['WebSockets', 'ServerSentEvents', 'LongPolling'] as const);
  const reply = (transports: readonly ('WebSockets' | 'ServerSentEvents' | 'LongPolling')[]) =>
    writeNegotiateReply({ negotiateVersion: 1, connectionId: 'a', connectionToken: 'b', transports });
  const expected =
    '{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[' +
    '{"transport":"WebSockets","transferFormats":["Text","Binary"]},' +
    '{"transport":"ServerSentEvents","transferFormats":["Text"]},' +
    '{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}';
  assert.equal(reply(list), expected);
  assert.equal(reply(list), expected);
  assert.equal(reply([...list]), expected);
  const mutable: ('WebSockets' | 'LongPolling')[] = ['WebSockets'];
  assert.match(reply(mutable), /"availableTransports":\[\{"transport":"WebSockets"[^\]]*\]\}\]\}$/);
  mutable.push('LongPolling');
  assert.match(reply(mutable), /"transport":"LongPolling"/);
});
