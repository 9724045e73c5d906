// The load generator's wire adapters against real servers: a Switchboard hub (JSON and
// MessagePack over WebSockets, JSON over Server-Sent Events and long polling) and Socket.IO 4
// (long polling). Each opens two connections; an echo must come back as one completion without
// error and pass the adapter's field-by-field check, a broadcast must count as one delivery at
// both connections and pass its check. The harness's counts rest on these classifiers.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Hub } from '@switchboard/server';
import { startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { Server } from 'socket.io';
import { adapters, closeAllAgents } from '../lib/adapters.mjs';

const PAYLOAD = 'x'.repeat(128);

class BenchHub extends Hub {
  echo(x: string): string {
    return x;
  }
  async broadcast(x: string): Promise<void> {
    await this.clients.all.send('broadcast', x);
  }
}

interface Conn {
  i: number;
  n: number;
  completions: number;
  errors: number;
  closed: boolean;
  closedByServer: string | null;
  capture: Buffer[] | string[] | null;
  ws: { send(frame: string | Buffer): void; terminate(): void };
}

/** Opens `count` connections with `protocol` and returns them, counting into their own fields. */
async function open(protocol: string, port: number, count: number): Promise<Conn[]> {
  const adapter = adapters[protocol as keyof typeof adapters];
  const sink = {
    current: {
      d(c: Conn, k: number) {
        c.n += k;
      },
      c(c: Conn, k: number, errs: number) {
        c.completions += k;
        c.errors += errs;
      },
    },
  };
  const ctx = { port, ports: [port], path: adapter.path, skipNegotiation: false, src: () => undefined };
  const conns: Conn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = {
      i,
      n: 0,
      completions: 0,
      errors: 0,
      closed: false,
      closedByServer: null,
      capture: [],
    } as unknown as Conn;
    conn.ws = await adapter.open(ctx, i, conn, sink);
    conns.push(conn);
  }
  return conns;
}

async function roundTrip(protocol: string, port: number): Promise<void> {
  const adapter = adapters[protocol as keyof typeof adapters];
  const [a, b] = await open(protocol, port, 2);
  try {
    // Id 0, as the generator's verify step uses (Socket.IO's check matches the ack of id 0).
    a.ws.send(adapter.echo(0, PAYLOAD));
    await waitFor(() => a.completions === 1, 5000, `${protocol} echo completion`);
    assert.equal(a.errors, 0);
    assert.ok(adapter.verifyEcho(a.capture, PAYLOAD), `${protocol}: echo result checked field by field`);
    a.ws.send(adapter.broadcast(PAYLOAD));
    await waitFor(() => a.n === 1 && b.n === 1, 5000, `${protocol} broadcast at both connections`);
    assert.ok(adapter.verifyBroadcast(b.capture, PAYLOAD), `${protocol}: broadcast checked field by field`);
    assert.equal(a.closed || b.closed, false);
  } finally {
    a.ws.terminate();
    b.ws.terminate();
  }
}

describe('bench load generator adapters', () => {
  let sb: TestServer;
  let io: Server;
  let ioPort: number;
  const ioHttp = createServer();

  before(async () => {
    sb = await startTestServer((hubs) => hubs.mapHub('/bench', BenchHub));
    io = new Server(ioHttp, { transports: ['polling'], serveClient: false });
    io.on('connection', (socket) => {
      socket.on('echo', (x: string, ack: (x: string) => void) => ack(x));
      socket.on('broadcast', (x: string) => io.emit('broadcast', x));
    });
    await new Promise<void>((resolve) => ioHttp.listen(0, '127.0.0.1', resolve));
    ioPort = (ioHttp.address() as AddressInfo).port;
  });

  after(async () => {
    closeAllAgents();
    await sb.close();
    await new Promise<void>((resolve) => io.close(() => resolve()));
  });

  for (const protocol of ['signalr-json', 'signalr-msgpack', 'signalr-sse', 'signalr-lp']) {
    test(`${protocol}: echo completes once, a broadcast reaches both connections`, async () => {
      await roundTrip(protocol, sb.port);
    });
  }

  test('socketio-lp: echo acknowledged once, a broadcast reaches both connections', async () => {
    await roundTrip('socketio-lp', ioPort);
  });

  test('signalr-msgpack: a ping frame is accepted (the connection stays open)', async () => {
    const adapter = adapters['signalr-msgpack'];
    const [a] = await open('signalr-msgpack', sb.port, 1);
    try {
      a.ws.send(adapter.ping());
      a.ws.send(adapter.echo(1, PAYLOAD));
      await waitFor(() => a.completions === 1, 5000, 'echo after a ping');
      assert.equal(a.closedByServer, null);
    } finally {
      a.ws.terminate();
    }
  });
});
