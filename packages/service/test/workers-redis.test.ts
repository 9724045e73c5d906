// `switchboard serve --workers 2` on a Redis backplane: every worker is a node of the cluster
// (`<node-id>-<k>`), beside a node of one process. What that node's REST API does reaches the
// clients of both workers (sends, user-group memberships with a TTL, existence checks naming the
// worker that holds the connection), and SIGTERM drains both workers and exits 0.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { connectClient, requireService, waitFor } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { collect, hubUrl, rest, type ServiceProcess, signToken, startService } from './helpers.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = 'svcw-redis-key';
const prefix = `svcw_${randomUUID()}:`;
const clients: HubConnection[] = [];
const services: ServiceProcess[] = [];

after(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
  await Promise.all(services.map((s) => s.stop()));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** The node that holds a connection, asked of `node`'s REST API. */
async function holderOf(node: ServiceProcess, connectionId: string): Promise<string | null> {
  const path = `/api/hubs/chat/connections/${connectionId}`;
  const token = await signToken(KEY, {}, { audience: `${node.baseUrl}${path}` });
  const response = await fetch(`${node.baseUrl}${path}?api-version=2022-06-01`, {
    method: 'HEAD',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  return response.headers.get('x-switchboard-connection-node');
}

test('svcw: with Redis, every worker is a node of the cluster; a single node reaches both', async (t) => {
  const { hostname, port } = new URL(REDIS_URL);
  if (!(await requireService(t, { kind: 'tcp', name: 'Redis', host: hostname, port: Number(port || 6379) })))
    return;
  const backplane = ['--backplane', 'redis', '--backplane-url', REDIS_URL, '--backplane-prefix', prefix];
  const common = ['--hub', 'chat', '--access-key', KEY, ...backplane];
  const workers = await startService([...common, '--workers', '2', '--node-id', 'svcwA']);
  services.push(workers);
  const single = await startService([...common, '--node-id', 'svcwB']);
  services.push(single);

  // Clients of one user on the workers, a few at once, until both workers hold one.
  const byWorker = new Map<string, HubConnection>();
  for (let round = 0; round < 8 && byWorker.size < 2; round++) {
    const started = await Promise.all(
      [0, 1, 2].map((j) => {
        const url = hubUrl(workers.baseUrl, 'chat');
        return connectClient(url, {
          accessTokenFactory: () => signToken(KEY, { nameid: 'svcw_r' }, { audience: url }),
          // A TCP connection per HTTP request: the negotiates reach both workers in turn.
          headers: { Connection: 'close' },
          ...(j === 1 ? { protocol: new MessagePackHubProtocol() } : {}),
        });
      }),
    );
    clients.push(...started);
    for (const client of started) {
      const holder = await holderOf(single, client.connectionId!);
      assert.match(holder ?? '', /^svcwA-[12]$/, 'the holder is a worker of the other machine');
      if (!byWorker.has(holder!)) byWorker.set(holder!, client);
    }
  }
  assert.deepEqual([...byWorker.keys()].sort(), ['svcwA-1', 'svcwA-2']);
  const targets = [...byWorker.values()];

  // A broadcast and a user send through the single node reach both workers' clients.
  const all = targets.map((c) => collect(c, 'all'));
  const toUser = targets.map((c) => collect(c, 'user'));
  const send = (path: string, target: string) =>
    rest(single.baseUrl, KEY, 'POST', path, { body: { target, arguments: [target] } });
  assert.equal((await send('/api/hubs/chat/:send', 'all')).status, 202);
  assert.equal((await send('/api/hubs/chat/users/svcw_r/:send', 'user')).status, 202);
  await waitFor(() => all.every((g) => g.length === 1) && toUser.every((g) => g.length === 1), 10_000);

  // A user-group membership with a TTL added on the single node applies on both workers, ends there.
  const membership = '/api/hubs/chat/users/svcw_r/groups/svcw_rg';
  assert.equal((await rest(single.baseUrl, KEY, 'PUT', membership, { query: 'ttl=2' })).status, 200);
  assert.equal((await rest(workers.baseUrl, KEY, 'HEAD', membership)).status, 200);
  const inGroup = targets.map((c) => collect(c, 'group'));
  assert.equal((await send('/api/hubs/chat/groups/svcw_rg/:send', 'group')).status, 202);
  await waitFor(() => inGroup.every((g) => g.length === 1), 10_000, 'the group send at both workers');
  const deadline = Date.now() + 15_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await rest(workers.baseUrl, KEY, 'HEAD', membership)).status;
    if (status === 404) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(status, 404, 'the membership ended');
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // each worker's sweep runs every second
  assert.equal((await send('/api/hubs/chat/groups/svcw_rg/:send', 'group')).status, 202);
  // Sent after the group send by the same node: once it arrives, so would have the group's.
  assert.equal((await send('/api/hubs/chat/:send', 'all')).status, 202);
  await waitFor(() => all.every((g) => g.length === 2), 10_000, 'the second broadcast');
  assert.deepEqual(
    inGroup.map((g) => g.length),
    [1, 1],
    'nothing reaches the ended membership',
  );

  const closed = targets.map((c) => new Promise<void>((resolve) => c.onclose(() => resolve())));
  assert.equal(await workers.stop(), 0);
  await Promise.all(closed);
});
