// A client that resets the socket of a WebSocket upgrade the server refuses (an unknown
// connection token, here) must not take the process down: Node leaves an upgraded socket's
// errors to the application, and an 'error' event without a listener is thrown.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Hub } from '@switchboard/server';
import { startTestServer } from '@switchboard/testkit';

class EchoHub extends Hub {}

test('a reset on a refused upgrade is an ordinary socket error, not a crash', async () => {
  const server = await startTestServer((hubs) => hubs.mapHub('/hub', EchoHub));
  try {
    for (let i = 0; i < 5; i++) {
      const socket = connect(server.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        'GET /hub?id=nobody HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      // Reset (RST) while the server is answering, as a proxy does when its client went away.
      socket.resetAndDestroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const answer = await fetch(`${server.baseUrl}/hub/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(answer.status, 200, 'the server still serves');
  } finally {
    await server.close();
  }
});
