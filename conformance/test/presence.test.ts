// Issue #4 on /testhub: the presence queries (GetOnlineUsers, GetUserConnectionCount,
// GetGroupConnectionCount, GetGroupUsers) and the Presence(userId, isOnline) events that every
// connection receives, with the grace period of --presence-grace-ms.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import type { ConformanceServer } from '@switchboard/conformance';
import { waitFor } from '@switchboard/testkit';
import { connect, fetchToken, startQuietServer, stopAll } from './helpers.ts';

const GRACE_MS = 600;

let server: ConformanceServer;
const opened: HubConnection[] = [];

interface Watcher {
  readonly connection: HubConnection;
  /** Every Presence event received, in order. */
  readonly events: [string, boolean][];
}

/** A connection that records its Presence events from before it starts. */
async function watcher(
  user: string | undefined,
  options: Parameters<typeof connect>[2] = {},
): Promise<Watcher> {
  const token = user === undefined ? undefined : await fetchToken(server.url, user);
  const connection = await connect(server, '/testhub', {
    ...options,
    noStart: true,
    ...(token ? { token } : {}),
  });
  const events: [string, boolean][] = [];
  connection.on('Presence', (userId: string, isOnline: boolean) => events.push([userId, isOnline]));
  await connection.start();
  opened.push(connection);
  return { connection, events };
}

function eventsOf(w: Watcher, user: string): boolean[] {
  return w.events.filter(([u]) => u === user).map(([, online]) => online);
}

before(async () => {
  server = await startQuietServer({ presenceGraceMs: GRACE_MS });
});

after(async () => {
  await stopAll(opened);
  await server.close();
});

test('presence queries and Presence events on every watching connection, one offline only after the last connection and the grace period', async () => {
  // Watchers: two users (JSON and MessagePack) and an anonymous connection.
  const watchers = [
    await watcher('watcher1'),
    await watcher('watcher2', { protocol: new MessagePackHubProtocol() }),
    await watcher(undefined),
  ];
  const [w1] = watchers as [Watcher, Watcher, Watcher];
  assert.deepEqual(await w1.connection.invoke('GetOnlineUsers'), ['watcher1', 'watcher2']);

  // carol opens three connections: one online event per watcher, whatever the number of connections.
  const carolToken = await fetchToken(server.url, 'carol');
  const carol = [];
  for (let i = 0; i < 3; i++) {
    const c = await connect(server, '/testhub', { token: carolToken });
    opened.push(c);
    carol.push(c);
  }
  for (const w of watchers) await waitFor(() => eventsOf(w, 'carol').length > 0, 5_000, 'carol online');
  assert.deepEqual(await w1.connection.invoke('GetOnlineUsers'), ['carol', 'watcher1', 'watcher2']);
  assert.equal(await w1.connection.invoke('GetUserConnectionCount', 'carol'), 3);
  assert.equal(await w1.connection.invoke('GetUserConnectionCount', 'nobody'), 0);

  // Groups: two of carol's connections and watcher1 in "room"; the anonymous watcher is not counted.
  await carol[0]!.invoke('JoinGroup', 'room');
  await carol[1]!.invoke('JoinGroup', 'room');
  await w1.connection.invoke('JoinGroup', 'room');
  await watchers[2]!.connection.invoke('JoinGroup', 'room');
  assert.equal(await w1.connection.invoke('GetGroupConnectionCount', 'room'), 3);
  assert.deepEqual(await w1.connection.invoke('GetGroupUsers', 'room'), ['carol', 'watcher1']);
  assert.deepEqual(await w1.connection.invoke('GetGroupUsers', 'empty'), []);
  assert.equal(await w1.connection.invoke('GetGroupConnectionCount', 'empty'), 0);

  // Closing them one by one: no offline event while one remains.
  await carol[0]!.stop();
  await sleep(50);
  assert.equal(await w1.connection.invoke('GetUserConnectionCount', 'carol'), 2);
  assert.equal(await w1.connection.invoke('GetGroupConnectionCount', 'room'), 2);
  await carol[1]!.stop();
  await sleep(50);
  assert.equal(await w1.connection.invoke('GetUserConnectionCount', 'carol'), 1);
  assert.deepEqual(await w1.connection.invoke('GetGroupUsers', 'room'), ['watcher1']);
  for (const w of watchers) assert.deepEqual(eventsOf(w, 'carol'), [true]);

  // The last one: still online during the grace period, then one offline event per watcher.
  const closedAt = Date.now();
  await carol[2]!.stop();
  await sleep(GRACE_MS / 3);
  assert.equal(await w1.connection.invoke('GetUserConnectionCount', 'carol'), 0);
  assert.deepEqual(await w1.connection.invoke('GetOnlineUsers'), ['carol', 'watcher1', 'watcher2']);
  for (const w of watchers) assert.deepEqual(eventsOf(w, 'carol'), [true]);

  for (const w of watchers) await waitFor(() => eventsOf(w, 'carol').length === 2, 5_000, 'carol offline');
  assert.ok(Date.now() - closedAt >= GRACE_MS - 50, 'offline only after the grace period');
  await sleep(100);
  for (const w of watchers) assert.deepEqual(eventsOf(w, 'carol'), [true, false]);
  assert.deepEqual(await w1.connection.invoke('GetOnlineUsers'), ['watcher1', 'watcher2']);
});

test('a user who comes back within the grace period emits no events', async () => {
  const w = await watcher('watcher3');
  const token = await fetchToken(server.url, 'dave');
  const first = await connect(server, '/testhub', { token });
  await waitFor(() => eventsOf(w, 'dave').length === 1, 5_000, 'dave online');
  await first.stop();
  await sleep(GRACE_MS / 3);
  const second = await connect(server, '/testhub', { token });
  opened.push(second);
  await sleep(GRACE_MS + 200);
  assert.deepEqual(eventsOf(w, 'dave'), [true]);
  assert.equal(await w.connection.invoke('GetUserConnectionCount', 'dave'), 1);
});
