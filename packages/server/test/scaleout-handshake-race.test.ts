// A connection must not miss a send addressed to it right after its handshake: the node answers
// the handshake only once it subscribes to the connection's and the user's channels. The test hook
// delays that subscription on purpose, so that a server answering first (the old order) loses the
// send from the other node every time, not by luck. A send of the node itself that reaches the
// connection in that window waits for the handshake answer and follows it.
import assert from 'node:assert/strict';
import test from 'node:test';
import { connectClient, startTestServer, waitFor } from '@switchboard/testkit';
import type { Authenticator } from '../src/auth/authentication.ts';
import { Hub } from '../src/hubs/hub.ts';
import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '../src/testing/index.ts';

class EmptyHub extends Hub {}

const byQuery: Authenticator = (request) => {
  const user = request.query.get('user');
  return user ? { userId: user, claims: {} } : null;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

for (const log of [true, false]) {
  test(`a send from another node at the moment of the handshake arrives (loopback bus ${log ? 'with' : 'without'} a log)`, async () => {
    const network = new LoopbackNetwork({ log });
    const presenceNetwork = new LoopbackPresenceNetwork();
    let early: ((connectionId: string) => Promise<void>) | undefined;
    const nodeA = loopbackBackplane({
      network,
      presenceNetwork,
      nodeId: 'a',
      // Widens the window between the handshake and the subscription of the connection's channels.
      beforeConnectionSubscribe: async (connectionId) => {
        await early?.(connectionId);
        await sleep(300);
      },
    });
    const nodeB = loopbackBackplane({ network, presenceNetwork, nodeId: 'b' });
    const a = await startTestServer((hubs) => hubs.mapHub('/hub', EmptyHub), {
      backplane: nodeA,
      authenticate: byQuery,
    });
    const b = await startTestServer((hubs) => hubs.mapHub('/hub', EmptyHub), {
      backplane: nodeB,
      authenticate: byQuery,
    });
    early = (id) => a.hubs.hubContext('/hub').clients.client(id).send('m', 'before the answer');
    try {
      await Promise.all([a.hubs.ready(), b.hubs.ready()]);
      const client = await connectClient(`${a.baseUrl}/hub?user=ada`, { noStart: true });
      const received: unknown[] = [];
      client.on('m', (value: unknown) => received.push(value));
      await client.start();
      // The moment the client is connected, node b sends to it, by connection and by user.
      const hub = b.hubs.hubContext('/hub');
      await hub.clients.client(client.connectionId!).send('m', 'to the connection');
      await hub.clients.user('ada').send('m', 'to the user');
      await waitFor(() => received.length === 3, 3_000, 'every send').catch(() => undefined);
      assert.deepEqual(received, ['before the answer', 'to the connection', 'to the user']);
      await client.stop();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}
