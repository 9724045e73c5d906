// The long-polling transport on the wire (docs/protocol.md#http-send, docs/protocol.md#long-polling): the
// first poll
// answered at once and empty, data in later polls, 200 empty on the poll timeout, 204 for a
// superseded poll, DELETE, the drain-then-204 end, no pings, the first poll's request as the
// hub's, and the sweep of a client that stopped polling.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { Hub } from '@switchboard/server';
import {
  connectClient,
  ManualTimeProvider,
  startTestServer,
  type TestServer,
  waitFor,
} from '@switchboard/testkit';
import { http, negotiated } from './http-transport-helpers.ts';

const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const disconnects: string[] = [];

class PollHub extends Hub {
  echo(value: unknown) {
    return value;
  }
  header(name: string) {
    return this.context.request.headers[name] ?? null;
  }
  query(name: string) {
    return this.context.request.query.get(name);
  }
  leave() {
    this.context.abort();
  }
  override onDisconnected() {
    disconnects.push(this.context.connectionId);
  }
}

const invoke = (id: string, target: string, args: unknown[]) =>
  `${JSON.stringify({ type: 1, invocationId: id, target, arguments: args })}\x1e`;

describe('long polling on the wire', () => {
  let server: TestServer;
  let hubUrl: string;
  before(async () => {
    server = await startTestServer((hubs) => hubs.mapHub('/poll', PollHub), {
      longPollTimeoutMs: 300,
      heartbeatIntervalMs: 20,
      keepAliveIntervalMs: 50,
    });
    hubUrl = `${server.baseUrl}/poll`;
  });
  after(() => server.close());

  /** Negotiates, takes the first poll, sends the handshake and reads its reply. */
  async function started(headers: Record<string, string> = {}) {
    const { id, token } = await negotiated(hubUrl);
    const url = `${hubUrl}?id=${token}`;
    const first = await http(`${url}&_=1`, { headers });
    assert.equal(first.status, 200);
    assert.equal((await http(url, { method: 'POST', body: HANDSHAKE })).status, 200);
    const reply = await http(url);
    assert.equal(reply.text, '{}\x1e');
    return { id, token, url };
  }

  test('the first poll is answered at once: 200, empty, application/octet-stream, no-cache', {
    timeout: 10_000,
  }, async () => {
    const { token } = await negotiated(hubUrl);
    const started = Date.now();
    const first = await http(`${hubUrl}?id=${token}&_=${Date.now()}`);
    assert.ok(Date.now() - started < 250, 'not held until the poll timeout');
    assert.equal(first.status, 200);
    assert.equal(first.body.length, 0);
    assert.equal(first.headers.get('content-type'), 'application/octet-stream');
    assert.equal(first.headers.get('content-length'), '0');
    assert.equal(first.headers.get('cache-control'), 'no-cache, no-store');
    assert.equal(first.headers.get('pragma'), 'no-cache');
    assert.equal(first.headers.get('expires'), 'Thu, 01 Jan 1970 00:00:00 GMT');
  });

  test('data waits for the next poll, which gets all of it with an exact length', {
    timeout: 10_000,
  }, async () => {
    const { url } = await started();
    await http(url, { method: 'POST', body: invoke('1', 'echo', ['a']) + invoke('2', 'echo', ['b']) });
    const polled = await http(url);
    assert.equal(polled.status, 200);
    assert.equal(Number(polled.headers.get('content-length')), polled.body.length);
    const messages = polled.text
      .split('\x1e')
      .filter(Boolean)
      .map((m) => JSON.parse(m));
    assert.deepEqual(
      messages.map((m) => m.result),
      ['a', 'b'],
    );
  });

  test('a poll with nothing to take gets 200 empty at the poll timeout, and no Ping ever comes', {
    timeout: 10_000,
  }, async () => {
    const { url } = await started();
    for (let i = 0; i < 2; i++) {
      const startedAt = Date.now();
      const polled = await http(url);
      assert.equal(polled.status, 200);
      assert.equal(polled.body.length, 0, 'no Ping although the keep-alive interval passed several times');
      assert.ok(Date.now() - startedAt >= 250, 'held until the poll timeout');
    }
  });

  test('a new poll supersedes the pending one, which gets 204; the new one gets the data', {
    timeout: 10_000,
  }, async () => {
    const { url } = await started();
    const old = http(url);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fresh = http(url);
    assert.equal((await old).status, 204);
    await http(url, { method: 'POST', body: invoke('9', 'echo', ['late']) });
    const got = await fresh;
    assert.equal(got.status, 200);
    assert.match(got.text, /"result":"late"/);
  });

  test('DELETE answers 202, ends the pending poll with 204, and ends the connection', {
    timeout: 10_000,
  }, async () => {
    const { id, url } = await started();
    const pending = http(url);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const deleted = await http(url, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    assert.equal(deleted.headers.get('content-type'), 'text/plain');
    assert.equal((await pending).status, 204);
    await waitFor(() => disconnects.includes(id), 5_000, 'onDisconnected');
    assert.equal((await http(url)).status, 404);
  });

  test('a server close: the next poll drains the Close message, the one after gets 204, then the id is gone', {
    timeout: 10_000,
  }, async () => {
    const { url } = await started();
    await http(url, { method: 'POST', body: invoke('1', 'leave', []) });
    const drained = await http(url);
    assert.equal(drained.status, 200);
    assert.ok(drained.text.includes('{"type":7}\x1e'), drained.text);
    assert.equal((await http(url)).status, 204);
    assert.equal((await http(url)).status, 404);
  });

  test("the hub sees the first poll's headers and query, not later ones'", { timeout: 10_000 }, async () => {
    const { url } = await started({ 'x-which': 'first' });
    await http(`${url}&extra=later`, {
      method: 'POST',
      headers: { 'x-which': 'post' },
      body: invoke('1', 'header', ['x-which']) + invoke('2', 'query', ['_']),
    });
    const polled = await http(url, { headers: { 'x-which': 'later' } });
    const results = polled.text
      .split('\x1e')
      .filter(Boolean)
      .map((m) => JSON.parse(m).result);
    assert.deepEqual(results, ['first', '1']);
  });

  test('the official client: no Ping messages on long polling, stop() ends the pending poll', {
    timeout: 10_000,
  }, async () => {
    const client = await connectClient(hubUrl, { transport: HttpTransportType.LongPolling });
    let closedWith: unknown = 'open';
    client.onclose((error) => {
      closedWith = error;
    });
    const received: string[] = [];
    (client as unknown as { connection: { onreceive: (data: unknown) => void } }).connection.onreceive = (
      (original) => (data: unknown) => {
        received.push(String(data));
        original(data);
      }
    )((client as unknown as { connection: { onreceive: (data: unknown) => void } }).connection.onreceive);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(await client.invoke('echo', 'x'), 'x');
    assert.ok(!received.some((r) => r.includes('"type":6')), `a Ping arrived: ${received.join(' | ')}`);
    await client.stop();
    assert.equal(closedWith, undefined);
  });
});

describe('the disconnect timeout on long polling', () => {
  test('a client that stops polling is swept after disconnectTimeoutMs; onDisconnected runs', {
    timeout: 10_000,
  }, async () => {
    const time = new ManualTimeProvider();
    const server = await startTestServer((hubs) => hubs.mapHub('/poll', PollHub), { timeProvider: time });
    try {
      const url = `${server.baseUrl}/poll`;
      const { id, token } = await negotiated(url);
      await http(`${url}?id=${token}`);
      await http(`${url}?id=${token}`, { method: 'POST', body: HANDSHAKE });
      assert.equal((await http(`${url}?id=${token}`)).text, '{}\x1e');
      // No poll pending now: the connection is inactive.
      time.advance(14_000);
      assert.equal(server.hubs.connectionCount, 1, 'kept before the timeout');
      // A poll in progress keeps it: it is active while the poll waits.
      const pending = http(`${url}?id=${token}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      time.advance(30_000);
      assert.equal(server.hubs.connectionCount, 1, 'a waiting poll keeps it');
      time.advance(60_000); // the 90 s poll timeout: 200 empty
      assert.equal((await pending).status, 200);
      time.advance(15_000);
      assert.equal(server.hubs.connectionCount, 0, 'swept 15 s after the last poll');
      await waitFor(() => disconnects.includes(id), 5_000, 'onDisconnected');
      assert.equal((await http(`${url}?id=${token}`)).status, 404);
    } finally {
      await server.close();
    }
  });
});

describe('a raw connection that its application ends between polls', () => {
  test('the next poll gets 204 (not 404), a POST meanwhile gets 200; then the id is gone', {
    timeout: 10_000,
  }, async () => {
    const opened: { close(): void }[] = [];
    const server = await startTestServer((hubs) =>
      hubs.mapConnection('/raw', (connection) => {
        opened.push(connection);
      }),
    );
    try {
      const url = `${server.baseUrl}/raw`;
      const { token } = await negotiated(url);
      const first = await http(`${url}?id=${token}`);
      assert.equal(first.status, 200);
      await waitFor(() => opened.length === 1, 5_000, 'the application started');
      // No poll pending: the application ends the connection.
      opened[0]!.close();
      assert.equal((await http(`${url}?id=${token}`, { method: 'POST', body: 'late' })).status, 200);
      assert.equal((await http(`${url}?id=${token}`)).status, 204, 'the client learns it is over');
      assert.equal((await http(`${url}?id=${token}`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
