// The server's own `ws` socket class (what an idle connection costs in memory, issue #16): it is
// what the server's WebSocket server makes, it holds its transport in a field (no map entry per
// connection), and its listener table starts as a plain shaped object with the transport's events,
// not the null-prototype hash table Node's EventEmitter starts with; events still work as before.
// The net socket under it keeps `ws`'s error listener alone (the upgrade's guard comes off).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { Hub, HubServer } from '@switchboard/server';
import { waitFor } from '@switchboard/testkit';
import { WebSocket } from 'ws';
import { HubWebSocket } from '../src/http/transports/websocket-transport.ts';

test('a server-side socket starts with a shaped listener table, and its events still reach listeners', () => {
  // As `ws`'s server makes it (websocket-server.js: `new this.options.WebSocket(null, undefined, options)`).
  const socket = new HubWebSocket(null, undefined, { autoPong: true } as WebSocket.ClientOptions);
  const events = (socket as unknown as { _events: object })._events;
  assert.equal(Object.getPrototypeOf(events), Object.prototype, 'not a null-prototype table');
  assert.deepEqual(Object.keys(events), ['message', 'close', 'error']);
  assert.equal(socket.transport, undefined);
  assert.equal(socket.listenerCount('message'), 0);

  const seen: string[] = [];
  const onMessage = (data: string) => seen.push(`message ${data}`);
  socket.on('message', onMessage);
  socket.on('close', () => seen.push('close'));
  socket.once('ping', () => seen.push('ping'));
  socket.emit('message', 'a');
  socket.emit('ping');
  socket.emit('ping');
  socket.emit('close');
  assert.deepEqual(seen, ['message a', 'ping', 'close']);
  assert.equal(socket.listenerCount('message'), 1);
  socket.off('message', onMessage);
  assert.equal(socket.listenerCount('message'), 0);
  // With no listener, an error still throws, as on any EventEmitter.
  assert.throws(() => socket.emit('error', new Error('boom')), /boom/);
});

test("the server's sockets are of that class and hold their transport while open", async () => {
  const hubs = new HubServer();
  hubs.mapHub(
    '/hub',
    class extends Hub {
      Echo(text: string): string {
        return text;
      }
    },
  );
  const http = createServer();
  hubs.attach(http);
  // The upgrade's net socket; the `ws` socket made on it is found through `ws`'s own back-reference
  // (the WebSocket server's 'connection' is not emitted for `handleUpgrade` callers).
  let upgraded: object | undefined;
  http.prependListener('upgrade', (_req, net) => {
    upgraded = net;
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as { port: number }).port;
  try {
    const client = new WebSocket(`ws://127.0.0.1:${port}/hub`);
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    client.send('{"protocol":"json","version":1}\x1e');
    await new Promise((resolve) => client.once('message', resolve));
    const backReference = Object.getOwnPropertySymbols(upgraded).find((s) => s.description === 'websocket');
    const serverSocket = (upgraded as Record<symbol, unknown>)[backReference!];
    assert.ok(serverSocket instanceof HubWebSocket, 'the server made a HubWebSocket');
    assert.ok((serverSocket as HubWebSocket).transport !== undefined, 'it holds its transport');
    // The upgrade's error guard came off once `ws` held the socket: one listener (ws's), not a list.
    assert.equal((upgraded as Duplex).listenerCount('error'), 1);
    assert.equal(typeof (upgraded as unknown as { _events: { error: unknown } })._events.error, 'function');
    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    client.close();
    // The server answers a close without a code with 1000 (docs/protocol.md#websocket-close).
    assert.equal(await closed, 1000);
    await waitFor(() => (serverSocket as HubWebSocket).transport === undefined, 5_000, 'let go once closed');
  } finally {
    await hubs.close();
    http.close();
  }
});
