import assert from 'node:assert/strict';
import test from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer } from '@switchboard/testkit';

const SECRET = 'caps-secret';

class CapsHub extends Hub {
  whoAmI() {
    return this.context.userIdentifier ?? null;
  }
}

function tokenFor(user: string): string {
  return signJwt({ sub: user }, SECRET, { lifetimeSeconds: 300 });
}

function connectAs(
  server: TestServer,
  user: string | undefined,
  skipNegotiation = false,
): Promise<HubConnection> {
  return connectClient(`${server.baseUrl}/caps`, {
    ...(user ? { accessTokenFactory: () => tokenFor(user) } : {}),
    ...(skipNegotiation ? { skipNegotiation: true, transport: HttpTransportType.WebSockets } : {}),
  });
}

async function start(options: { maxConnectionsPerUser?: number; maxConnectionsPerIp?: number }) {
  return startTestServer((hubs) => hubs.mapHub('/caps', CapsHub), {
    authenticate: jwtBearerAuthenticator({ secret: SECRET }),
    ...options,
  });
}

test('a user over the per-user cap is refused at negotiate with the text the client reports; others are not', async () => {
  const server = await start({ maxConnectionsPerUser: 3 });
  try {
    const tabs = [
      await connectAs(server, 'ann'),
      await connectAs(server, 'ann'),
      await connectAs(server, 'ann'),
    ];
    await assert.rejects(
      connectAs(server, 'ann'),
      (error: Error) =>
        error.message ===
        "Failed to complete negotiation with the server: Error: Too many connections for this user.: Status code '429'",
    );
    const other = await connectAs(server, 'ben');
    assert.equal(await other.invoke('whoAmI'), 'ben');
    await tabs[0]!.stop();
    const again = await connectAs(server, 'ann'); // a slot came free
    assert.equal(await again.invoke('whoAmI'), 'ann');
    for (const c of [...tabs.slice(1), again, other]) await c.stop();
  } finally {
    await server.close();
  }
});

test('a storm of connects for one user lets exactly the cap through', async () => {
  const server = await start({ maxConnectionsPerUser: 5 });
  try {
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => connectAs(server, 'storm')));
    const connected = results.filter(
      (r) => r.status === 'fulfilled',
    ) as PromiseFulfilledResult<HubConnection>[];
    assert.equal(connected.length, 5);
    for (const r of results) {
      if (r.status === 'rejected') assert.match(String(r.reason), /Too many connections for this user/);
    }
    const bystander = await connectAs(server, 'calm');
    assert.equal(await bystander.invoke('whoAmI'), 'calm');
    for (const c of [...connected.map((r) => r.value), bystander]) await c.stop();
  } finally {
    await server.close();
  }
});

test('without negotiation the refusal arrives as a handshake error', async () => {
  const server = await start({ maxConnectionsPerUser: 1 });
  try {
    const first = await connectAs(server, 'dan', true);
    await assert.rejects(
      connectAs(server, 'dan', true),
      /Server returned handshake error: Too many connections for this user\./,
    );
    await first.stop();
    const second = await connectAs(server, 'dan', true);
    await second.stop();
  } finally {
    await server.close();
  }
});

test('the per-IP cap counts anonymous connections too', async () => {
  const server = await start({ maxConnectionsPerIp: 2 });
  try {
    const a = await connectAs(server, undefined);
    const b = await connectAs(server, 'eve');
    await assert.rejects(
      connectAs(server, undefined),
      /Too many connections from this address\.: Status code '429'/,
    );
    await a.stop();
    const c = await connectAs(server, undefined);
    for (const x of [b, c]) await x.stop();
  } finally {
    await server.close();
  }
});
