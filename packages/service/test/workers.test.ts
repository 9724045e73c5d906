// `switchboard serve --workers 2`: two worker processes share the port (node:cluster hands each
// TCP connection to the next worker), joined by the in-box bus with no outside service. Whichever
// worker a REST call or a client request lands on, it works: sends reach the clients of both
// workers, existence checks and group changes agree, user-group memberships with a TTL are shared
// (held by the primary), a long-polling client's requests are forwarded to the worker that holds
// its connection (no sticky sessions), and SIGTERM drains both workers and exits 0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { connectClient, waitFor, within } from '@switchboard/testkit';
import { collect, connectHub, hubUrl, type ServiceProcess, signToken, startService } from './helpers.ts';

const KEY = 'svcw-workers-key';
let service: ServiceProcess;
const clients: HubConnection[] = [];

before(async () => {
  service = await startService(['--hub', 'chat', '--access-key', KEY, '--workers', '2', '--node-id', 'svcw']);
});

after(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
  if (service && (await service.stop()) !== 0) process.stderr.write(service.output());
});

/** A REST answer with the node that served it and, for a connection check, the one that holds it. */
interface Answer {
  readonly status: number;
  readonly servedBy: string | undefined;
  readonly holder: string | undefined;
  readonly body: string;
}

/**
 * One REST call on a TCP connection of its own (no keep-alive pool), so that node:cluster hands
 * consecutive calls to different workers.
 */
async function call(
  method: string,
  path: string,
  options: { body?: unknown; query?: string } = {},
): Promise<Answer> {
  const token = await signToken(KEY, {}, { audience: `${service.baseUrl}${path}` });
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const query = ['api-version=2022-06-01', options.query].filter(Boolean).join('&');
  return new Promise((resolve, reject) => {
    const req = request(
      `${service.baseUrl}${path}?${query}`,
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            servedBy: res.headers['x-switchboard-node'] as string | undefined,
            holder: res.headers['x-switchboard-connection-node'] as string | undefined,
            body: text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Calls until both workers served one; resolves with every answer (one call or more per worker). */
async function onEveryWorker(method: string, path: string, options: { body?: unknown; query?: string } = {}) {
  const answers: Answer[] = [];
  const served = new Set<string>();
  for (let i = 0; i < 20 && served.size < 2; i++) {
    const answer = await call(method, path, options);
    answers.push(answer);
    if (answer.servedBy) served.add(answer.servedBy);
  }
  assert.deepEqual([...served].sort(), ['svcw-1', 'svcw-2'], 'both workers served a call');
  return answers;
}

/** The worker that holds a connection (asked of whichever worker takes the call). */
async function holderOf(connectionId: string): Promise<string> {
  const answer = await call('HEAD', `/api/hubs/chat/connections/${connectionId}`);
  assert.equal(answer.status, 200);
  assert.ok(answer.holder, 'the holder is named');
  return answer.holder;
}

/** The user of each client {@link spread} connected. */
const names = new Map<HubConnection, string>();

/**
 * Connects clients of `user` until one is held by each worker; resolves with them by worker. The
 * official client's connection lives on the worker that answered its negotiate; its transport's
 * requests (each on a new socket) land on either worker. A few start at once.
 */
async function spread(
  user: (i: number) => string,
  options: { transport?: HttpTransportType } = {},
): Promise<Map<string, HubConnection>> {
  const byWorker = new Map<string, HubConnection>();
  const url = hubUrl(service.baseUrl, 'chat');
  for (let round = 0; round < 6 && byWorker.size < 2; round++) {
    const started = await Promise.all(
      [0, 1, 2].map(async (j) => {
        const i = round * 3 + j;
        const name = user(i);
        const client = await connectClient(url, {
          accessTokenFactory: () => signToken(KEY, { nameid: name }, { audience: url }),
          // A TCP connection per HTTP request (the client's `headers` option; a WebSocket upgrade
          // keeps its own): node:cluster hands the negotiates, polls and POSTs to both workers in
          // turn, and those that miss the connection's worker are forwarded to it.
          headers: { Connection: 'close' },
          // Server-Sent Events carry text only: JSON there.
          ...(i % 2 === 1 && options.transport !== HttpTransportType.ServerSentEvents
            ? { protocol: new MessagePackHubProtocol() }
            : {}),
          ...(options.transport !== undefined ? { transport: options.transport } : {}),
        });
        clients.push(client);
        names.set(client, name);
        return client;
      }),
    );
    for (const client of started) {
      const worker = await holderOf(client.connectionId!);
      if (!byWorker.has(worker)) byWorker.set(worker, client);
    }
  }
  assert.equal(byWorker.size, 2, 'clients are held by both workers');
  return byWorker;
}

test('svcw: REST sends to all, to a user, to a connection and to a group reach clients of both workers', async () => {
  const held = await spread((i) => `svcw_user_${i}`);
  const [one, two] = [held.get('svcw-1')!, held.get('svcw-2')!];
  const got = [collect(one, 'all'), collect(two, 'all')];
  // Broadcasts through both workers' REST API, each reaching both workers' clients.
  const sends = await onEveryWorker('POST', '/api/hubs/chat/:send', {
    body: { target: 'all', arguments: ['b'] },
  });
  for (const answer of sends.values()) assert.equal(answer.status, 202);
  await waitFor(() => got.every((g) => g.length === sends.length), 10_000, 'every broadcast at both clients');

  // To a user and to a connection, through each worker, for the clients of each worker.
  for (const [worker, client] of held) {
    const toUser = collect(client, 'user');
    const toConnection = collect(client, 'conn');
    const user = (await call('HEAD', `/api/hubs/chat/connections/${client.connectionId}`)).holder;
    assert.equal(user, worker);
    const name = names.get(client)!;
    const viaUser = await onEveryWorker('POST', `/api/hubs/chat/users/${name}/:send`, {
      body: { target: 'user', arguments: [name] },
    });
    const viaConnection = await onEveryWorker(
      'POST',
      `/api/hubs/chat/connections/${client.connectionId}/:send`,
      {
        body: { target: 'conn', arguments: [1] },
      },
    );
    await waitFor(() => toUser.length === viaUser.length, 10_000, `user sends at ${worker}`);
    await waitFor(
      () => toConnection.length === viaConnection.length,
      10_000,
      `connection sends at ${worker}`,
    );
    assert.deepEqual(toUser[0], [name]);
  }

  // Group changes through either worker apply to the connection wherever it lives; checks agree.
  const group = 'svcw_group';
  for (const client of [one, two]) {
    const added = await call('PUT', `/api/hubs/chat/groups/${group}/connections/${client.connectionId}`);
    assert.equal(added.status, 200);
  }
  for (const answer of (await onEveryWorker('HEAD', `/api/hubs/chat/groups/${group}`)).values())
    assert.equal(answer.status, 200);
  const inGroup = [collect(one, 'group'), collect(two, 'group')];
  const groupSends = await onEveryWorker('POST', `/api/hubs/chat/groups/${group}/:send`, {
    body: { target: 'group', arguments: ['g'] },
  });
  await waitFor(() => inGroup.every((g) => g.length === groupSends.length), 10_000, 'group sends at both');
  const removed = await call('DELETE', `/api/hubs/chat/groups/${group}/connections/${two.connectionId}`);
  assert.equal(removed.status, 200);
  const afterRemoval = await call('POST', `/api/hubs/chat/groups/${group}/:send`, {
    body: { target: 'group', arguments: ['only one'] },
  });
  assert.equal(afterRemoval.status, 202);
  await waitFor(() => inGroup[0]!.length === groupSends.length + 1, 10_000, 'the member still gets it');
  assert.equal(inGroup[1]!.length, groupSends.length, 'the removed connection does not');

  // Existence checks answer the same on both workers; a close through either ends the connection.
  for (const client of [one, two]) {
    for (const answer of (
      await onEveryWorker('HEAD', `/api/hubs/chat/connections/${client.connectionId}`)
    ).values())
      assert.equal(answer.status, 200);
  }
  const closed = new Promise<void>((resolve) => two.onclose(() => resolve()));
  assert.equal((await call('DELETE', `/api/hubs/chat/connections/${two.connectionId}`)).status, 200);
  await closed;
  for (const answer of (
    await onEveryWorker('HEAD', `/api/hubs/chat/connections/${two.connectionId}`)
  ).values())
    assert.equal(answer.status, 404);
});

test('svcw: user-group memberships with a TTL are shared by the workers, for connections opened later too', async () => {
  const user = 'svcw_ttl_user';
  const path = `/api/hubs/chat/users/${user}/groups`;
  const first = await connectHub(service.baseUrl, 'chat', KEY, user);
  clients.push(first);
  const firstWorker = await holderOf(first.connectionId!);
  // Added through the worker that does not hold the user's connection.
  let put: Answer | undefined;
  for (let i = 0; i < 20 && put?.servedBy !== otherThan(firstWorker); i++)
    put = await call('PUT', `${path}/svcw_long`, { query: 'ttl=600' });
  assert.equal(put?.servedBy, otherThan(firstWorker));
  assert.equal(put.status, 200);
  for (const answer of (await onEveryWorker('HEAD', `${path}/svcw_long`)).values())
    assert.equal(answer.status, 200);

  // A connection of the user opened later on the other worker reads the membership too.
  const later = (await spread(() => user)).get(otherThan(firstWorker));
  assert.ok(later, 'a later connection is held by the other worker');
  const got = [collect(first, 'long'), collect(later, 'long')];
  assert.equal(
    (
      await call('POST', '/api/hubs/chat/groups/svcw_long/:send', {
        body: { target: 'long', arguments: [1] },
      })
    ).status,
    202,
  );
  await waitFor(() => got.every((g) => g.length === 1), 10_000, 'the group send at both connections');

  // A short membership ends on both workers when its TTL runs out.
  assert.equal((await call('PUT', `${path}/svcw_short`, { query: 'ttl=2' })).status, 200);
  const short = [collect(first, 'short'), collect(later, 'short')];
  assert.equal(
    (
      await call('POST', '/api/hubs/chat/groups/svcw_short/:send', {
        body: { target: 'short', arguments: [1] },
      })
    ).status,
    202,
  );
  await waitFor(
    () => short.every((g) => g.length === 1),
    10_000,
    'the short group reaches both before its end',
  );
  const deadline = Date.now() + 15_000;
  let statuses: number[] = [];
  while (Date.now() < deadline) {
    statuses = [...(await onEveryWorker('HEAD', `${path}/svcw_short`)).values()].map((a) => a.status);
    if (statuses.every((s) => s === 404)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.ok(statuses.length >= 2 && statuses.every((s) => s === 404), 'expired on both workers');
  // Each worker's sweep (every second) has made the connections leave the group by now.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.equal(
    (
      await call('POST', '/api/hubs/chat/groups/svcw_short/:send', {
        body: { target: 'short', arguments: [2] },
      })
    ).status,
    202,
  );
  assert.equal(
    (
      await call('POST', '/api/hubs/chat/groups/svcw_long/:send', {
        body: { target: 'long', arguments: [2] },
      })
    ).status,
    202,
  );
  await waitFor(() => got.every((g) => g.length === 2), 10_000, 'the long membership still holds');
  assert.deepEqual(
    short.map((g) => g.length),
    [1, 1],
    'nothing reaches the expired group',
  );
  assert.equal((await call('HEAD', `${path}/svcw_long`)).status, 200);
});

for (const [name, transport] of [
  ['long polling', HttpTransportType.LongPolling],
  ['Server-Sent Events', HttpTransportType.ServerSentEvents],
] as const) {
  test(`svcw: ${name} clients work whichever worker each request lands on`, async () => {
    const held = await spread((i) => `svcw_${transport}_${i}`, { transport });
    const got = [...held.values()].map((client) => collect(client, 'lp'));
    for (let i = 0; i < 6; i++) {
      const sent = await call('POST', '/api/hubs/chat/:send', { body: { target: 'lp', arguments: [i] } });
      assert.equal(sent.status, 202);
    }
    await waitFor(() => got.every((g) => g.length === 6), 15_000, `six broadcasts at both ${name} clients`);
    for (const g of got)
      assert.deepEqual(
        g.map((args) => args[0]),
        [0, 1, 2, 3, 4, 5],
      );
    // The client's own POSTs reach its connection too: an invocation comes back with its answer
    // (this hub has no upstream, so the answer is the service's error).
    for (const client of held.values())
      await assert.rejects(
        client.invoke('Echo', 'x'),
        /Method 'Echo' does not exist: hub 'chat' has no upstream/,
      );
  });
}

test('svcw: a raw long-polling exchange, each request on a new TCP connection, is forwarded to its owner', async () => {
  const url = hubUrl(service.baseUrl, 'chat');
  const token = await signToken(KEY, { nameid: 'svcw_raw' }, { audience: url });
  const auth = { authorization: `Bearer ${token}` };
  const negotiate = await raw('POST', `/client/negotiate?hub=chat&negotiateVersion=1`, auth);
  assert.equal(negotiate.status, 200, negotiate.body);
  const { connectionToken, connectionId } = JSON.parse(negotiate.body) as {
    connectionToken: string;
    connectionId: string;
  };
  const transport = `/client/?hub=chat&id=${encodeURIComponent(connectionToken)}`;
  // The handshake and several polls, each on a socket of its own: node:cluster hands them to both
  // workers in turn, and the one that does not hold the connection forwards the request.
  // As the official client: a first poll (answered at once), then the handshake.
  assert.equal((await raw('GET', transport, auth)).status, 200);
  const handshake = await raw('POST', transport, auth, '{"protocol":"json","version":1}\u001e');
  assert.equal(handshake.status, 200, handshake.body);
  let received = '';
  for (let i = 0; i < 4 && !received.includes('"rawpoll"'); i++) {
    if (i === 1) {
      const sent = await call('POST', `/api/hubs/chat/connections/${connectionId}/:send`, {
        body: { target: 'rawpoll', arguments: ['x'] },
      });
      assert.equal(sent.status, 202);
    }
    const poll = await raw('GET', transport, auth);
    assert.equal(poll.status, 200);
    received += poll.body;
  }
  assert.ok(received.includes('{}'), 'the handshake answer came back');
  assert.ok(received.includes('"rawpoll"'), 'the REST send came back on a poll');
  assert.match(await holderOf(connectionId), /^svcw-[12]$/);
  // The inner path a forwarded request names is no route for clients, and a forged hop is refused.
  const inner = `/client/hubs/chat?hub=chat&id=${encodeURIComponent(connectionToken)}`;
  assert.equal((await raw('GET', inner, auth)).status, 404);
  assert.equal((await raw('GET', inner, { ...auth, 'x-switchboard-hop': 'svcw.1.forged' })).status, 403);
  const deleted = await raw('DELETE', transport, auth);
  assert.ok(deleted.status >= 200 && deleted.status < 300, `DELETE answered ${deleted.status}`);
});

test('svcw: a worker that dies is replaced; the memberships held by the primary outlive it', {
  timeout: 150_000,
}, async () => {
  const held = await within(
    spread((i) => `svcw_dead_${i}`),
    60_000,
    'clients on both workers',
  );
  const membership = '/api/hubs/chat/users/svcw_survivor/groups/svcw_kept';
  assert.equal((await call('PUT', membership, { query: 'ttl=600' })).status, 200);
  const victim = held.get('svcw-2')!;
  const closed = new Promise<void>((resolve) => victim.onclose(() => resolve()));
  const workerPids = execFileSync('pgrep', ['-P', String(service.pid)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number);
  assert.equal(workerPids.length, 2, 'two worker processes');
  // Which worker process is svcw-2: the one whose environment names it.
  const pid = workerPids.find((p) =>
    readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes('SWITCHBOARD_WORKER_NODE_ID=svcw-2'),
  );
  assert.ok(pid, 'the process of svcw-2');
  process.kill(pid, 'SIGKILL');
  // The client's server timeout (30 s) closes it at the latest.
  await within(closed, 45_000, "the dead worker's client to close");
  // The replacement takes the same number; both workers serve again.
  const deadline = Date.now() + 30_000;
  let served = new Set<string>();
  while (Date.now() < deadline && served.size < 2) {
    served = new Set();
    for (let i = 0; i < 6; i++) {
      const answer = await call('HEAD', '/api/hubs/chat/groups/nothing').catch(() => undefined);
      if (answer?.status === 404 && answer.servedBy) served.add(answer.servedBy);
    }
  }
  assert.deepEqual([...served].sort(), ['svcw-1', 'svcw-2']);
  // A connection of the user on the new svcw-2 reads the membership the primary kept.
  const later = (
    await within(
      spread(() => 'svcw_survivor'),
      60_000,
      'clients on both workers again',
    )
  ).get('svcw-2')!;
  const got = collect(later, 'kept');
  assert.equal(
    (
      await call('POST', '/api/hubs/chat/groups/svcw_kept/:send', {
        body: { target: 'kept', arguments: [1] },
      })
    ).status,
    202,
  );
  await waitFor(() => got.length === 1, 10_000, 'the group send at the new worker');
});

test('svcw: SIGTERM drains both workers and exits 0', { timeout: 120_000 }, async () => {
  const client = await connectHub(service.baseUrl, 'chat', KEY, 'svcw_last');
  const closed = new Promise<void>((resolve) => client.onclose(() => resolve()));
  assert.equal(await within(service.stop(), 60_000, 'the service to exit after SIGTERM'), 0);
  await within(closed, 10_000, 'the client to close');
});

function otherThan(worker: string): string {
  return worker === 'svcw-1' ? 'svcw-2' : 'svcw-1';
}

/** One request on a TCP connection of its own. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${service.baseUrl}${path}`, { method, agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
