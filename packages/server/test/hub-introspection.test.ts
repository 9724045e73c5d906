import assert from 'node:assert/strict';
import test from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';

const SECRET = 'introspection-secret';

class ModeratedHub extends Hub {
  async join(group: string) {
    await this.groups.add(this.context.connectionId, group);
  }
  /** A moderator's method: ends another user's every connection. */
  async kick(userId: string, reason: string) {
    await this.connections.closeUser(userId, { reason });
  }
  myConnections() {
    return this.presence
      .userConnections(this.context.userIdentifier!)
      .then((c) => c.map((x) => x.connectionId).sort());
  }
}

function connectAs(server: TestServer, user: string, reconnect = false): Promise<HubConnection> {
  const token = signJwt({ sub: user }, SECRET, { lifetimeSeconds: 300 });
  return connectClient(`${server.baseUrl}/moderated`, {
    accessTokenFactory: () => token,
    ...(reconnect ? { automaticReconnect: [0] } : {}),
  });
}

function closedWith(connection: HubConnection): Promise<string | undefined> {
  return new Promise((resolve) => connection.onclose((error) => resolve(error?.message)));
}

test('a user is disconnected everywhere with a reason; everyone else stays', async () => {
  const server = await startTestServer((hubs) => hubs.mapHub('/moderated', ModeratedHub), {
    authenticate: jwtBearerAuthenticator({ secret: SECRET }),
  });
  try {
    const devices = [
      await connectAs(server, 'mallory'),
      await connectAs(server, 'mallory'),
      await connectAs(server, 'mallory'),
    ];
    const ids = devices.map((d) => d.connectionId!).sort();
    assert.deepEqual(await devices[0]!.invoke('myConnections'), ids, "the user's connections, listed");
    const closes = devices.map(closedWith);
    const moderator = await connectAs(server, 'mod');
    await moderator.invoke('kick', 'mallory', 'Removed by a moderator.');
    for (const reason of await Promise.all(closes)) {
      assert.equal(reason, 'Server returned an error on close: Removed by a moderator.');
    }
    assert.equal(await moderator.invoke('myConnections').then((c: string[]) => c.length), 1);
    await waitFor(() => server.hubs.connectionCount === 1, 3_000, 'only the moderator left');
    await moderator.stop();
  } finally {
    await server.close();
  }
});

test('one connection is closed from outside the hub; with allowReconnect the client comes back by itself', async () => {
  const server = await startTestServer((hubs) => hubs.mapHub('/moderated', ModeratedHub), {
    authenticate: jwtBearerAuthenticator({ secret: SECRET }),
  });
  try {
    const phone = await connectAs(server, 'zoe');
    const laptop = await connectAs(server, 'zoe', true);
    const reconnected = new Promise<string | undefined>((resolve, reject) => {
      laptop.onreconnected(resolve);
      setTimeout(() => reject(new Error('the laptop did not reconnect')), 5_000).unref();
    });
    const phoneClosed = closedWith(phone);
    const context = server.hubs.hubContext('/moderated');
    await context.connections.close(laptop.connectionId!, { reason: 'Maintenance.', allowReconnect: true });
    const newId = await reconnected;
    assert.ok(newId);
    await context.connections.close(phone.connectionId!);
    assert.equal(await phoneClosed, undefined, 'no reason: a clean close');
    await context.connections.close('no-such-connection'); // unknown ids are no error
    await laptop.stop();
  } finally {
    await server.close();
  }
});
