// Users: JWT bearer authentication through the official client's accessTokenFactory, several users
// with several connections each, clients.user / clients.users, the user id and claims in the
// context, and the user index following connections as they leave.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { type DefaultHubLifetimeManager, Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';
import { END, record, stopAll } from './hub-test-helpers.js';

const secret = 'users-test-secret';

class UserHub extends Hub {
  whoAmI() {
    return { userIdentifier: this.context.userIdentifier ?? null, claims: this.context.user?.claims ?? null };
  }
  toUser(user: string, x: unknown) {
    return this.clients.user(user).send('m', x);
  }
  toUsers(users: string[], x: unknown) {
    return this.clients.users(users).send('m', x);
  }
}

let server: TestServer;
let url: string;

before(async () => {
  server = await startTestServer((h) => h.mapHub('/users', UserHub), {
    authenticate: jwtBearerAuthenticator({ secret }),
  });
  url = `${server.baseUrl}/users`;
});
after(() => server.close());

function tokenFor(sub: string, extra: Record<string, unknown> = {}): string {
  return signJwt({ sub, ...extra }, secret, { lifetimeSeconds: 3600 });
}

function connectAs(user: string | undefined): Promise<HubConnection> {
  return user === undefined
    ? connectClient(url)
    : connectClient(url, { accessTokenFactory: () => tokenFor(user) });
}

const manager = () => server.hubs.lifetimeManager('/users') as DefaultHubLifetimeManager;

test('context.userIdentifier and context.user.claims come from the token', async () => {
  const c = await connectClient(url, {
    accessTokenFactory: () => tokenFor('alice', { name: 'Alice A.', tier: 'gold' }),
  });
  const anonymous = await connectClient(url);
  try {
    const me = (await c.invoke('whoAmI')) as { userIdentifier: string; claims: Record<string, unknown> };
    assert.equal(me.userIdentifier, 'alice');
    assert.equal(me.claims.sub, 'alice');
    assert.equal(me.claims.name, 'Alice A.');
    assert.equal(me.claims.tier, 'gold');
    assert.equal(typeof me.claims.exp, 'number');
    assert.deepEqual(await anonymous.invoke('whoAmI'), { userIdentifier: null, claims: null });
  } finally {
    await stopAll([c, anonymous]);
  }
});

test("clients.user reaches every connection of the user and nobody else's; clients.users each once", async () => {
  // alice x3, bob x2, carol x1, two anonymous; 'Alice' is a different user (ids compare exactly)
  const owners = ['alice', 'bob', 'alice', undefined, 'carol', 'bob', 'alice', undefined, 'Alice'];
  const clients = await Promise.all(owners.map(connectAs));
  try {
    const logs = record(clients);
    const context = server.hubs.hubContext('/users');
    const settle = async () => {
      await context.clients.all.send('m', END);
      await logs.settle();
      const copy = logs.logs.map((log) => [...log]);
      logs.clear();
      return copy;
    };
    const only = (wanted: readonly (string | undefined)[], x: unknown) =>
      owners.map((o) => (o !== undefined && wanted.includes(o) ? [x, END] : [END]));

    await clients[3]!.invoke('toUser', 'alice', 'for alice');
    assert.deepEqual(await settle(), only(['alice'], 'for alice'));

    await clients[0]!.invoke('toUser', 'bob', 'for bob');
    assert.deepEqual(await settle(), only(['bob'], 'for bob'));

    await clients[1]!.invoke('toUsers', ['carol', 'alice', 'carol', 'nobody'], 'for some');
    assert.deepEqual(await settle(), only(['carol', 'alice'], 'for some'));

    await clients[1]!.invoke('toUser', 'nobody', 'lost');
    assert.deepEqual(await settle(), only([], 'lost'));

    assert.deepEqual(
      manager().userConnections('alice').sort(),
      [0, 2, 6].map((i) => clients[i]!.connectionId).sort(),
    );
    assert.deepEqual(
      manager().userConnections('bob').sort(),
      [1, 5].map((i) => clients[i]!.connectionId).sort(),
    );

    // one of alice's connections leaves: the other two still get her messages, the index forgets it
    await clients[2]!.stop();
    await waitFor(
      () => manager().userConnections('alice').length === 2,
      5_000,
      'the user index to drop a connection',
    );
    const live = clients.filter((_, i) => i !== 2);
    const liveOwners = owners.filter((_, i) => i !== 2);
    const liveLogs = record(live, 'n');
    await context.clients.user('alice').send('n', 'still alice');
    await context.clients.all.send('n', END);
    await liveLogs.settle();
    assert.deepEqual(
      liveLogs.logs,
      liveOwners.map((o) => (o === 'alice' ? ['still alice', END] : [END])),
    );
  } finally {
    await stopAll(clients);
  }
  await waitFor(() => manager().connectionCount === 0, 5_000, 'every connection to leave');
  for (const user of ['alice', 'bob', 'carol', 'Alice'])
    assert.deepEqual(manager().userConnections(user), []);
});

test('the hub context reaches users from outside a hub method', async () => {
  const [bob, other] = await Promise.all([connectAs('bob'), connectAs('dave')]);
  try {
    const logs = record([bob, other]);
    const context = server.hubs.hubContext('/users');
    await context.clients.user('bob').send('m', 'from outside');
    await context.clients.users(['dave']).send('m', 'for dave');
    await context.clients.all.send('m', END);
    await logs.settle();
    assert.deepEqual(logs.logs, [
      ['from outside', END],
      ['for dave', END],
    ]);
  } finally {
    await stopAll([bob, other]);
  }
});
