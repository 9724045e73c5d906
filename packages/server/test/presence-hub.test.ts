import assert from 'node:assert/strict';
import test from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';

const SECRET = 'presence-secret';
const GRACE_MS = 300;

class PresenceHub extends Hub {
  async join(group: string) {
    await this.groups.add(this.context.connectionId, group);
  }
  onlineUsers() {
    return this.presence.onlineUsers();
  }
  userConnectionCount(userId: string) {
    return this.presence.userConnections(userId).then((c) => c.length);
  }
  userTransports(userId: string) {
    return this.presence.userConnections(userId).then((c) => c.map((x) => `${x.transport}/${x.device.type}`));
  }
  groupConnectionCount(group: string) {
    return this.presence.groupConnectionCount(group);
  }
  groupUsers(group: string) {
    return this.presence.groupUsers(group);
  }
  groupConnectionUsers(group: string) {
    return this.presence.groupConnections(group).then((c) => c.map((x) => x.userId).sort());
  }
  isOnline(userId: string) {
    return this.presence.isOnline(userId);
  }
}

async function startPresenceServer(): Promise<TestServer> {
  const server = await startTestServer((hubs) => hubs.mapHub('/presence', PresenceHub), {
    authenticate: jwtBearerAuthenticator({ secret: SECRET }),
    presenceGraceMs: GRACE_MS,
  });
  // Every transition goes to every connection, once (as the conformance server does).
  const context = server.hubs.hubContext('/presence');
  context.presence.onUserOnline((e) => void context.clients.all.send('presence', e.userId, true));
  context.presence.onUserOffline((e) => void context.clients.all.send('presence', e.userId, false));
  return server;
}

function connectAs(
  server: TestServer,
  user: string | undefined,
  transport: HttpTransportType = HttpTransportType.WebSockets,
): Promise<HubConnection> {
  const token = user ? signJwt({ sub: user }, SECRET, { lifetimeSeconds: 300 }) : undefined;
  return connectClient(`${server.baseUrl}/presence`, {
    transport,
    ...(token ? { accessTokenFactory: () => token } : {}),
  });
}

/** Records the presence events one connection receives. */
function watch(connection: HubConnection): string[] {
  const events: string[] = [];
  connection.on('presence', (user: string, online: boolean) =>
    events.push(`${user}:${online ? 'on' : 'off'}`),
  );
  return events;
}

test('a user on three transports is shown once, and goes offline once after the last leaves and the grace', async () => {
  const server = await startPresenceServer();
  try {
    const watchers = [await connectAs(server, 'watcher-1'), await connectAs(server, undefined)];
    const logs = watchers.map(watch);
    const alice = [
      await connectAs(server, 'alice', HttpTransportType.WebSockets),
      await connectAs(server, 'alice', HttpTransportType.ServerSentEvents),
      await connectAs(server, 'alice', HttpTransportType.LongPolling),
    ];
    for (const log of logs) await waitFor(() => log.includes('alice:on'), 2_000, 'alice online');
    assert.deepEqual(await watchers[0]!.invoke('onlineUsers'), ['alice', 'watcher-1']);
    assert.equal(await watchers[0]!.invoke('userConnectionCount', 'alice'), 3);
    assert.deepEqual(await watchers[0]!.invoke('userTransports', 'alice'), [
      'WebSockets/bot',
      'ServerSentEvents/bot',
      'LongPolling/bot',
    ]);
    // A send to the user reaches all three devices.
    const got = alice.map((c) => new Promise((resolve) => c.on('note', resolve)));
    await server.hubs.hubContext('/presence').clients.user('alice').send('note', 'to every device');
    assert.deepEqual(await Promise.all(got), ['to every device', 'to every device', 'to every device']);

    await alice[0]!.stop();
    await alice[1]!.stop();
    // Two of three tabs closed, well past the grace: still online, nothing emitted.
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS * 2));
    assert.equal(await watchers[0]!.invoke('isOnline', 'alice'), true);
    await alice[2]!.stop();
    for (const log of logs) await waitFor(() => log.includes('alice:off'), 3_000, 'alice offline');
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS));
    for (const log of logs) {
      assert.deepEqual(
        log.filter((e) => e.startsWith('alice')),
        ['alice:on', 'alice:off'],
        'each watcher hears each transition exactly once',
      );
    }
    assert.equal(await watchers[0]!.invoke('isOnline', 'alice'), false);
    for (const w of watchers) await w.stop();
  } finally {
    await server.close();
  }
});

test('a reload inside the grace period emits nothing', async () => {
  const server = await startPresenceServer();
  try {
    const watcher = await connectAs(server, 'watcher');
    const log = watch(watcher);
    const first = await connectAs(server, 'bob');
    await waitFor(() => log.includes('bob:on'), 2_000, 'bob online');
    await first.stop();
    const second = await connectAs(server, 'bob'); // the reloaded page
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS * 2));
    assert.deepEqual(
      log.filter((e) => e.startsWith('bob')),
      ['bob:on'],
    );
    await second.stop();
    await watcher.stop();
  } finally {
    await server.close();
  }
});

test('group users and connection counts follow joins and disconnects; anonymous connections are not users', async () => {
  const server = await startPresenceServer();
  try {
    const carol = [await connectAs(server, 'carol'), await connectAs(server, 'carol')];
    const dave = await connectAs(server, 'dave');
    const anonymous = await connectAs(server, undefined);
    for (const c of [...carol, dave, anonymous]) await c.invoke('join', 'room');
    assert.equal(await dave.invoke('groupConnectionCount', 'room'), 3);
    assert.deepEqual(await dave.invoke('groupUsers', 'room'), ['carol', 'dave']);
    assert.deepEqual(await dave.invoke('groupConnectionUsers', 'room'), ['carol', 'carol', 'dave']);
    // Groups are per hub: the same name elsewhere is another group.
    assert.equal(await server.hubs.hubContext('/presence').presence.groupConnectionCount('other'), 0);
    await carol[0]!.stop();
    await waitFor(() => true);
    assert.equal(await dave.invoke('groupConnectionCount', 'room'), 2);
    await carol[1]!.stop();
    assert.deepEqual(await dave.invoke('groupUsers', 'room'), ['dave']);
    await dave.stop();
    await anonymous.stop();
  } finally {
    await server.close();
  }
});
