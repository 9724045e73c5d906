// Slow and greedy clients at the HTTP level (issue 18): half-sent request headers and bodies are
// timed out (408), and one address holds at most maxSocketsPerIp sockets (429), counted by
// X-Forwarded-For only behind a trusted proxy. Short timeouts here; the defaults are 30 s.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { MessageType } from '@switchboard/protocol';
import { Hub, type HubServerOptions } from '@switchboard/server';
import { negotiate, RawClient, startTestServer, within } from '@switchboard/testkit';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
}

/** A raw TCP client: what it received, and when the server closed it. */
interface RawSocket {
  readonly socket: Socket;
  received(): string;
  readonly closed: Promise<void>;
}

async function openSocket(port: number, send = ''): Promise<RawSocket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  if (send) socket.write(send);
  return { socket, received: () => data, closed };
}

const start = (options: HubServerOptions) =>
  startTestServer(
    (hubs) => hubs.mapHub('/echo', EchoHub),
    options,
    (req, res) => {
      if (req.url !== '/app') return false;
      res.writeHead(200, { 'Content-Length': 2 });
      res.end('ok');
      return true;
    },
  );

describe('slow clients', () => {
  test('a socket that stops in the middle of its request headers gets 408 and is closed', async () => {
    const server = await start({ requestHeadersTimeoutMs: 300 });
    try {
      const sockets = await Promise.all(
        Array.from({ length: 20 }, () =>
          openSocket(server.port, 'POST /echo/negotiate HTTP/1.1\r\nHost: x\r\nX-Sl'),
        ),
      );
      const idle = await openSocket(server.port); // not a byte sent
      for (const s of [...sockets, idle]) {
        await within(s.closed, 5_000, 'a socket with half its headers');
        assert.match(s.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      }
      // Whole requests, an app route and a WebSocket that lives longer than the timeout, are not touched.
      const app = await fetch(`${server.baseUrl}/app`);
      assert.equal(await app.text(), 'ok');
      const raw = await RawClient.connect(`${server.baseUrl}/echo`);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const completion = await raw.invoke('echo', ['still here']);
      assert.equal(completion.type, MessageType.Completion);
      assert.equal(raw.isClosed, false);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });

  test('a kept-alive socket that starts a second request and stops is closed too', async () => {
    const server = await start({ requestHeadersTimeoutMs: 300 });
    try {
      const s = await openSocket(server.port, 'GET /app HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.match(s.received(), /^HTTP\/1\.1 200 OK/);
      s.socket.write('GET /app HTTP/1.1\r\nHo');
      await within(s.closed, 5_000, 'the second, half-sent request');
      assert.match(s.received(), /HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      await server.close();
    }
  });

  test('a hub request whose body stops arriving gets 408 and is closed', async () => {
    const server = await start({ requestBodyTimeoutMs: 300 });
    try {
      // A long-polling connection: negotiate, the first poll, then a send whose body stops.
      const negotiated = await negotiate(`${server.baseUrl}/echo`);
      const token = String(negotiated.json?.connectionToken);
      assert.equal((await fetch(`${server.baseUrl}/echo?id=${token}`)).status, 200);
      const s = await openSocket(
        server.port,
        `POST /echo?id=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"protocol":`,
      );
      await within(s.closed, 5_000, 'a half-sent body');
      assert.match(s.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      // A whole request is answered as ever.
      const ok = await fetch(`${server.baseUrl}/echo/negotiate?negotiateVersion=1`, { method: 'POST' });
      assert.equal(ok.status, 200);
    } finally {
      await server.close();
    }
  });

  test('maxSocketsPerIp: one socket more than the cap gets 429; a closed one frees its place', async () => {
    const server = await start({ maxSocketsPerIp: 3 });
    try {
      const held = await Promise.all([0, 1, 2].map(() => openSocket(server.port)));
      const refused = await openSocket(server.port);
      await within(refused.closed, 5_000, 'the socket over the cap');
      assert.match(
        refused.received(),
        /^HTTP\/1\.1 429 Too Many Requests\r\n[\s\S]*Too many connections from this address\.$/,
      );
      held[0]!.socket.destroy();
      await held[0]!.closed;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const again = await openSocket(server.port, 'GET /app HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.match(again.received(), /^HTTP\/1\.1 200 OK/);
      for (const s of [...held, again]) s.socket.destroy();
    } finally {
      await server.close();
    }
  });

  test('behind a trusted proxy the sockets count per X-Forwarded-For address, from their first request', async () => {
    const server = await start({ maxSocketsPerIp: 2, trustProxy: 1 });
    try {
      const request = (ip: string) => `GET /app HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${ip}\r\n\r\n`;
      // Sockets that sent nothing yet are the proxy's: not counted.
      const idle = await Promise.all([0, 1, 2].map(() => openSocket(server.port)));
      const a = await Promise.all([0, 1].map(() => openSocket(server.port, request('203.0.113.1'))));
      const b = await openSocket(server.port, request('203.0.113.2'));
      const third = await openSocket(server.port, request('203.0.113.1'));
      await within(third.closed, 5_000, 'the third socket of 203.0.113.1');
      assert.match(third.received(), /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      for (const s of [...a, b]) assert.match(s.received(), /^HTTP\/1\.1 200 OK/);
      for (const s of [...idle, ...a, b]) s.socket.destroy();
    } finally {
      await server.close();
    }
  });
});
