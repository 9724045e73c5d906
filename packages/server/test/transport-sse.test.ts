// The Server-Sent Events transport on the wire (docs/protocol.md#http-send,
// docs/protocol.md#server-sent-events): the
// preamble flushed first, the event framing, POSTed client data, the refusals (409, 400, 404),
// the MessagePack refusal, and the end of the stream from either side.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { Hub } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { formatServerSentEvent } from '../src/http/transports/server-sent-events-transport.ts';
import { http, negotiated, openEventStream } from './http-transport-helpers.ts';

const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const disconnects: string[] = [];

class SseHub extends Hub {
  echo(value: unknown) {
    return value;
  }
  override onDisconnected() {
    disconnects.push(this.context.connectionId);
  }
}

describe('formatServerSentEvent', () => {
  test('one data line per payload line, CR before LF dropped, a blank line ends the event', () => {
    assert.equal(
      formatServerSentEvent(Buffer.from('{"type":6}\x1e')).toString(),
      'data: {"type":6}\x1e\r\n\r\n',
    );
    assert.equal(
      formatServerSentEvent(Buffer.from('a\nb\r\nc')).toString(),
      'data: a\r\ndata: b\r\ndata: c\r\n\r\n',
    );
    assert.equal(formatServerSentEvent(Buffer.from('a\n')).toString(), 'data: a\r\ndata: \r\n\r\n');
    assert.equal(formatServerSentEvent(Buffer.alloc(0)).toString(), '\r\n');
  });
});

describe('Server-Sent Events on the wire', () => {
  let server: TestServer;
  let hubUrl: string;
  before(async () => {
    server = await startTestServer((hubs) => {
      hubs.mapHub('/sse', SseHub);
      hubs.mapConnection('/lines', (connection) => {
        connection.onMessage((data) => connection.send(`${data.toString()}\nsecond line\r\nthird`));
      });
    });
    hubUrl = `${server.baseUrl}/sse`;
  });
  after(() => server.close());

  test('the preamble `:\\r\\n` comes first, at once, with the no-cache headers', {
    timeout: 10_000,
  }, async () => {
    const { token } = await negotiated(hubUrl);
    const stream = await openEventStream(`${hubUrl}?id=${token}`);
    try {
      assert.equal(stream.status, 200);
      assert.equal(stream.headers['content-type'], 'text/event-stream');
      assert.equal(stream.headers['cache-control'], 'no-cache,no-store');
      assert.equal(stream.headers.pragma, 'no-cache');
      assert.equal(stream.headers['content-encoding'], 'identity');
      // Nothing was sent by the client yet: the preamble arrives on its own.
      assert.equal(await stream.until((t) => t.length > 0, 'the preamble'), ':\r\n');
    } finally {
      stream.close();
    }
  });

  test('the handshake and an invocation go by POST; replies come as data: events', {
    timeout: 10_000,
  }, async () => {
    const { token } = await negotiated(hubUrl);
    const stream = await openEventStream(`${hubUrl}?id=${token}`);
    try {
      const posted = await http(`${hubUrl}?id=${token}`, { method: 'POST', body: HANDSHAKE });
      assert.equal(posted.status, 200);
      assert.equal(posted.text, '');
      assert.equal(posted.headers.get('content-type'), 'text/plain');
      await stream.until((t) => t.includes('data: {}\x1e\r\n\r\n'), 'the handshake reply');
      await http(`${hubUrl}?id=${token}`, {
        method: 'POST',
        body: '{"type":1,"invocationId":"1","target":"echo","arguments":["hi"]}\x1e',
      });
      await stream.until((t) => t.includes('"result":"hi"'), 'the completion');
      assert.ok(stream.text().includes('data: {"type":3,"invocationId":"1","result":"hi"}\x1e\r\n\r\n'));
    } finally {
      stream.close();
    }
  });

  test('a multi-line payload becomes one event of several data: lines', { timeout: 10_000 }, async () => {
    const url = `${server.baseUrl}/lines`;
    const { token } = await negotiated(url);
    const stream = await openEventStream(`${url}?id=${token}`);
    try {
      await http(`${url}?id=${token}`, { method: 'POST', body: 'first' });
      const text = await stream.until((t) => t.includes('third'), 'the event');
      assert.equal(text, ':\r\ndata: first\r\ndata: second line\r\ndata: third\r\n\r\n');
    } finally {
      stream.close();
    }
  });

  test('a second event stream for the same connection gets 409; a poll gets 400; the first goes on', {
    timeout: 10_000,
  }, async () => {
    const { token } = await negotiated(hubUrl);
    const stream = await openEventStream(`${hubUrl}?id=${token}`);
    try {
      await stream.until((t) => t.startsWith(':'), 'the preamble');
      const second = await http(`${hubUrl}?id=${token}`, { headers: { accept: 'text/event-stream' } });
      assert.equal(second.status, 409);
      const poll = await http(`${hubUrl}?id=${token}`);
      assert.deepEqual([poll.status, poll.text], [400, 'Cannot change transports mid-connection']);
      const del = await http(`${hubUrl}?id=${token}`, { method: 'DELETE' });
      assert.deepEqual(
        [del.status, del.text],
        [400, 'Cannot terminate this connection using the DELETE endpoint.'],
      );
      await http(`${hubUrl}?id=${token}`, { method: 'POST', body: HANDSHAKE });
      await stream.until((t) => t.includes('data: {}\x1e'), 'the handshake reply');
    } finally {
      stream.close();
    }
  });

  test('no id: 400; an unknown id or the public id: 404 before the stream starts', {
    timeout: 10_000,
  }, async () => {
    const missing = await http(hubUrl, { headers: { accept: 'text/event-stream' } });
    assert.deepEqual([missing.status, missing.text], [400, 'Connection ID required']);
    const { id } = await negotiated(hubUrl);
    for (const bad of ['AAAAAAAAAAAAAAAAAAAAAA', id]) {
      const reply = await http(`${hubUrl}?id=${bad}`, { headers: { accept: 'text/event-stream' } });
      assert.deepEqual([reply.status, reply.text], [404, 'No Connection with that ID']);
    }
  });

  test('MessagePack over SSE gets the reference handshake error, then the stream ends', {
    timeout: 10_000,
  }, async () => {
    const { token } = await negotiated(hubUrl);
    const stream = await openEventStream(`${hubUrl}?id=${token}`);
    await http(`${hubUrl}?id=${token}`, {
      method: 'POST',
      body: '{"protocol":"messagepack","version":1}\x1e',
    });
    await stream.ended;
    assert.equal(
      stream.text(),
      ':\r\ndata: {"error":"Cannot use the \'messagepack\' protocol on the current transport. The transport does not support \'Binary\' transfer format."}\x1e\r\n\r\n',
    );
    // The official client never gets that far: it refuses SSE for a binary protocol itself.
    await assert.rejects(
      connectClient(hubUrl, {
        transport: HttpTransportType.ServerSentEvents,
        protocol: new MessagePackHubProtocol(),
      }),
      /The Server-Sent Events transport only supports the 'Text' transfer format|Unable to connect/,
    );
  });

  test('the client closing its stream ends the connection; its token is then unknown', {
    timeout: 10_000,
  }, async () => {
    const { id, token } = await negotiated(hubUrl);
    const stream = await openEventStream(`${hubUrl}?id=${token}`);
    await http(`${hubUrl}?id=${token}`, { method: 'POST', body: HANDSHAKE });
    await stream.until((t) => t.includes('data: {}\x1e'), 'the handshake reply');
    stream.close();
    await waitFor(() => disconnects.includes(id), 5_000, 'onDisconnected');
    const post = await http(`${hubUrl}?id=${token}`, { method: 'POST', body: '{"type":6}\x1e' });
    assert.equal(post.status, 404);
  });

  test('a server shutdown sends Close and ends the stream; the official client sees no error', {
    timeout: 10_000,
  }, async () => {
    const own = await startTestServer((hubs) => hubs.mapHub('/sse', SseHub));
    const client = await connectClient(`${own.baseUrl}/sse`, {
      transport: HttpTransportType.ServerSentEvents,
    });
    let closedWith: unknown = 'not closed';
    client.onclose((error) => {
      closedWith = error;
    });
    assert.equal(await client.invoke('echo', 1), 1);
    await own.close();
    await waitFor(() => closedWith !== 'not closed', 5_000, 'onclose');
    assert.equal(closedWith, undefined);
  });
});
