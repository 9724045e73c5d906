// HubServer.connectionStats(): the node's connections by transport, those negotiated and not yet
// taken by a transport, and the distinct users among them, as official clients come and go.
import assert from 'node:assert/strict';
import test from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, waitFor } from '@switchboard/testkit';

const SECRET = 'connection-stats-secret';

class EchoHub extends Hub {
  echo(text: string) {
    return text;
  }
}

test('connectionStats counts connections by transport, pending negotiations and distinct users', async () => {
  const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub), {
    authenticate: jwtBearerAuthenticator({ secret: SECRET }),
  });
  const connect = (user: string, transport: HttpTransportType) => {
    const token = signJwt({ sub: user }, SECRET, { lifetimeSeconds: 300 });
    return connectClient(`${server.baseUrl}/echo`, { accessTokenFactory: () => token, transport });
  };
  try {
    assert.deepEqual(server.hubs.connectionStats(), {
      total: 0,
      pending: 0,
      byTransport: { WebSockets: 0, ServerSentEvents: 0, LongPolling: 0 },
      users: 0,
    });
    const ws = await connect('ann', HttpTransportType.WebSockets);
    const sse = await connect('ann', HttpTransportType.ServerSentEvents);
    const lp = await connect('bob', HttpTransportType.LongPolling);
    assert.deepEqual(server.hubs.connectionStats(), {
      total: 3,
      pending: 0,
      byTransport: { WebSockets: 1, ServerSentEvents: 1, LongPolling: 1 },
      users: 2,
    });

    // A negotiate that no transport request followed is pending.
    const token = signJwt({ sub: 'cy' }, SECRET, { lifetimeSeconds: 300 });
    const negotiated = await fetch(`${server.baseUrl}/echo/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(negotiated.status, 200);
    const stats = server.hubs.connectionStats();
    assert.equal(stats.total, 4);
    assert.equal(stats.pending, 1);

    await sse.stop();
    await lp.stop();
    await waitFor(
      () => {
        const now = server.hubs.connectionStats();
        return now.byTransport.ServerSentEvents === 0 && now.byTransport.LongPolling === 0;
      },
      5_000,
      'the stopped connections gone',
    );
    assert.equal(server.hubs.connectionStats().byTransport.WebSockets, 1);
    await ws.stop();
  } finally {
    await server.close();
  }
});
