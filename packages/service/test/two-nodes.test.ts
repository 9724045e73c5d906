// Two service processes on one Redis: what node A's REST API does reaches clients of node B (sends,
// group changes, existence checks, closes, user-group memberships with a TTL, shared by both).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { requireService, waitFor } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { collect, connectHub, rest, type ServiceProcess, startService } from './helpers.ts';
import { userGroupsAcrossNodes } from './user-groups-scenario.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = 'two-nodes-key';
const prefix = `sbtest:h-service:${randomUUID()}:`;
const nodes: ServiceProcess[] = [];
const clients: HubConnection[] = [];
const redisUrl = new URL(REDIS_URL);
const redis = {
  kind: 'tcp',
  name: 'Redis',
  host: redisUrl.hostname,
  port: Number(redisUrl.port || 6379),
} as const;
let available = false;

/** Whether Redis answers (the tests skip loudly without it, or fail under CI=true). */
function reachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: redis.host, port: redis.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

before(async () => {
  available = await reachable();
  if (!available) return;
  const args = ['--hub', 'chat', '--access-key', KEY, '--backplane', 'redis', '--backplane-url', REDIS_URL];
  nodes.push(await startService([...args, '--backplane-prefix', prefix, '--node-id', 'A']));
  nodes.push(await startService([...args, '--backplane-prefix', prefix, '--node-id', 'B']));
});

after(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all(nodes.map((n) => n.stop()));
  if (!available) return;
  const client = new Redis(REDIS_URL);
  const keys = await client.keys(`${prefix}*`);
  if (keys.length > 0) await client.del(...keys);
  await client.quit();
});

async function onNode(node: ServiceProcess, user: string, msgpack = false): Promise<HubConnection> {
  const c = await connectHub(
    node.baseUrl,
    'chat',
    KEY,
    user,
    msgpack ? new MessagePackHubProtocol() : undefined,
  );
  clients.push(c);
  return c;
}

const callA = (method: string, path: string, options: Parameters<typeof rest>[4] = {}) =>
  rest(nodes[0]!.baseUrl, KEY, method, path, options);

/** Waits until a REST check on node A answers `status` (the other node's answer may lag a send). */
async function eventually(method: string, path: string, status: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await callA(method, path)).status;
    if (last === status) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(last, status, `${method} ${path}`);
}

test('a send on node A reaches clients on node B: all, connection, user, group (JSON and MessagePack)', async (t) => {
  if (!(await requireService(t, redis)) || !available) return;
  const [, b] = nodes as [ServiceProcess, ServiceProcess];
  const bob = await onNode(b, 'bob');
  const cy = await onNode(b, 'cy', true);
  const gotBob = collect(bob, 'm');
  const gotCy = collect(cy, 'm');
  assert.equal(
    (await callA('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: ['all'] } })).status,
    202,
  );
  await waitFor(() => gotBob.length === 1 && gotCy.length === 1, 10_000, 'the broadcast on node B');
  await callA('POST', `/api/hubs/chat/connections/${bob.connectionId}/:send`, {
    body: { target: 'm', arguments: ['conn'] },
  });
  await callA('POST', '/api/hubs/chat/users/cy/:send', { body: { target: 'm', arguments: ['user'] } });
  await waitFor(() => gotBob.length === 2 && gotCy.length === 2, 10_000, 'the connection and user sends');
  assert.deepEqual(
    gotBob.map((a) => a[0]),
    ['all', 'conn'],
  );
  assert.deepEqual(
    gotCy.map((a) => a[0]),
    ['all', 'user'],
  );

  // Node A adds node B's connection to a group: it finds it (200), and a group send reaches it.
  const put = await callA('PUT', `/api/hubs/chat/groups/room/connections/${cy.connectionId}`);
  assert.equal(put.status, 200);
  await callA('POST', '/api/hubs/chat/groups/room/:send', { body: { target: 'm', arguments: ['room'] } });
  await waitFor(() => gotCy.length === 3, 10_000, 'the group send');
  assert.deepEqual(gotCy[2], ['room']);
  assert.equal(gotBob.length, 2);
});

test('existence checks, closes and user groups on node A see node B', async (t) => {
  if (!(await requireService(t, redis)) || !available) return;
  const [a, b] = nodes as [ServiceProcess, ServiceProcess];
  const dee = await onNode(b, 'dee');
  assert.equal((await callA('HEAD', `/api/hubs/chat/connections/${dee.connectionId}`)).status, 200);
  assert.equal((await callA('HEAD', '/api/hubs/chat/users/dee')).status, 200);
  assert.equal((await callA('HEAD', '/api/hubs/chat/users/nobody')).status, 404);

  // A user-group membership made on node A holds for the user's connections on node B, later ones too.
  assert.equal(
    (await callA('PUT', '/api/hubs/chat/users/dee/groups/fans', { query: 'ttl=120' })).status,
    200,
  );
  await eventually('HEAD', '/api/hubs/chat/groups/fans', 200);
  const dee2 = await onNode(b, 'dee', true);
  const dee3 = await onNode(a, 'dee');
  const got2 = collect(dee2, 'm');
  const got3 = collect(dee3, 'm');
  await callA('POST', '/api/hubs/chat/groups/fans/:send', { body: { target: 'm', arguments: ['fans'] } });
  await waitFor(
    () => got2.length === 1 && got3.length === 1,
    10_000,
    'the group send to later connections on both nodes',
  );
  assert.equal(
    (await rest(b.baseUrl, KEY, 'HEAD', '/api/hubs/chat/users/dee/groups/fans')).status,
    200,
    'node B knows the membership',
  );
  assert.equal((await callA('DELETE', '/api/hubs/chat/users/dee/groups/fans')).status, 204);
  await eventually('HEAD', '/api/hubs/chat/groups/fans', 404);

  // Close a user's connections on both nodes, from node A, except one.
  const closed = [dee, dee2].map((c) => new Promise<Error | undefined>((resolve) => c.onclose(resolve)));
  const r = await callA('POST', '/api/hubs/chat/users/dee/:closeConnections', {
    query: `excluded=${dee3.connectionId}&reason=done`,
  });
  assert.equal(r.status, 204);
  for (const error of await Promise.all(closed)) assert.match(String(error?.message), /done/);
  assert.equal(dee3.state, 'Connected');
  await eventually('HEAD', `/api/hubs/chat/connections/${dee.connectionId}`, 404);
});

test('user-group memberships are kept in Redis: later connections, a node started after, removal and TTL everywhere', async (t) => {
  if (!(await requireService(t, redis)) || !available) return;
  const runPrefix = `svch_${randomUUID()}:`;
  try {
    await userGroupsAcrossNodes([
      '--backplane',
      'redis',
      '--backplane-url',
      REDIS_URL,
      '--backplane-prefix',
      runPrefix,
    ]);
  } finally {
    const client = new Redis(REDIS_URL);
    const keys = await client.keys(`${runPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  }
});
