/**
 * Issue #16, every core (continued from cluster-workers.test.ts): the conformance server with
 * `--workers`: a worker killed with SIGKILL while clients send numbered messages; workers on Redis
 * with a node of another process; clients that negotiate, whose requests are forwarded between
 * workers.
 */ import assert from 'node:assert/strict';
import test, { after } from 'node:test';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import {
  ChildHandle,
  connectClient,
  expectDeliveries,
  type Member,
  NodeProcess,
  NumberedReceiver,
  NumberedSender,
  numberedProblems,
  redisClusterSetup,
  type SentRecord,
  sleep,
  type WorkerClient,
  WorkersServer,
  waitFor,
} from '@switchboard/testkit';

after(() => ChildHandle.killAll());

async function member(server: WorkersServer, label: string, user?: string, node?: string): Promise<Member> {
  const client = await server.connect('/testhub', { ...(user ? { user } : {}), ...(node ? { node } : {}) });
  const sends: unknown[] = [];
  const presence: string[] = [];
  client.connection.on('Send', (x: unknown) => sends.push(x));
  client.connection.on('Presence', (u: string, online: boolean) => presence.push(`${u}:${online}`));
  client.connection.on('Result', () => 10);
  return { ...client, label: `${label}@${client.node}`, sends, presence };
}

/** A client in group `g` that sends numbered messages to it and records what it gets. */
interface Party {
  readonly label: string;
  readonly client: WorkerClient;
  readonly receiver: NumberedReceiver;
  node: string;
  joinedAt: number;
  reconnects: number;
  sender?: NumberedSender;
}

test('--workers 3: a worker killed with SIGKILL while clients send numbered messages: nothing lost within the window, nothing twice; it is replaced and its presence leaves', async (t) => {
  const leaseMs = 2_000;
  const server = await WorkersServer.start({ workers: 3, leaseMs, presenceGraceMs: 500 });
  try {
    const parties: Party[] = [];
    for (let k = 0; k < 2; k++) {
      for (const node of server.nodes) {
        const label = `${node.slice(-1)}-${k}`;
        const client = await server.connect('/testhub', {
          node,
          user: label,
          // Retries for about 30 s: a client pinned to the killed worker comes back once its
          // replacement listens, which a loaded machine can take well over 8 s to start.
          automaticReconnect: [0, 200, 500, 1_000, 1_000, 1_000, ...Array<number>(12).fill(2_000)],
        });
        const p: Party = {
          label,
          client,
          receiver: new NumberedReceiver(label),
          node,
          joinedAt: 0,
          reconnects: 0,
        };
        client.connection.on('Send', (x: unknown) => p.receiver.record(x));
        client.connection.onreconnected(() => {
          (async () => {
            await client.connection.invoke('JoinGroup', 'g');
            p.joinedAt = Date.now();
            p.node = await client.connection.invoke<string>('GetNodeId');
            p.reconnects++;
          })().catch(() => undefined);
        });
        await client.connection.invoke('JoinGroup', 'g');
        p.joinedAt = Date.now();
        parties.push(p);
      }
    }
    const doomed = server.nodes[1]!;
    const watcher = await server.connect('/testhub', { node: server.nodes[0]! });
    await server.connect('/testhub', { node: doomed, user: 'gone' });
    for (const p of parties) {
      p.sender = new NumberedSender(
        p.label,
        () => p.client.connection,
        'SendToGroup',
        (m) => ['g', m],
        40,
      );
    }
    await sleep(1_000);

    const atKill = parties.map((p) => p.receiver.snapshot());
    const moved = parties.filter((p) => p.node === doomed);
    const killedAt = Date.now();
    const pid = server.killWorker(doomed);
    await waitFor(
      () => moved.every((p) => p.reconnects >= 1 && p.client.connection.state === 'Connected'),
      30_000,
      "the killed worker's clients reconnected",
    );
    // Its presence leaves within the lease (plus a heartbeat): 'gone' never came back.
    const deadline = Date.now() + leaseMs + 5_000;
    for (;;) {
      const online = await watcher.connection.invoke<string[]>('GetOnlineUsers');
      const counts = await Promise.all(
        moved.map((p) => watcher.connection.invoke<number>('GetUserConnectionCount', p.label)),
      );
      if (!online.includes('gone') && counts.every((c) => c === 1)) break;
      assert.ok(
        Date.now() < deadline,
        `presence after the kill: online ${online.join(',')}, counts ${counts}`,
      );
      await sleep(100);
    }
    // The worker is replaced under the same node id, with a new process.
    await waitFor(
      () => {
        try {
          return server.workerPid(doomed) !== pid;
        } catch {
          return false;
        }
      },
      30_000,
      'the replacement worker',
    );
    await sleep(1_500);
    const records = await Promise.all(parties.map((p) => p.sender!.stop()));
    const movedLabels = new Set(moved.map((p) => p.label));
    const mustHave = (r: Party, s: SentRecord, n: number) => {
      const started = s.startedAt.get(n) ?? 0;
      // A receiver that was on the killed worker: what was sent after it joined again.
      if (movedLabels.has(r.label) && started < r.joinedAt) return false;
      // A sender on the killed worker: what it sent before the kill that this receiver had not
      // received may have died with the worker.
      const had = atKill[parties.indexOf(r)]?.get(s.sender)?.has(n) ?? false;
      if (movedLabels.has(s.sender) && started < killedAt && !had) return false;
      return true;
    };
    await waitFor(
      () =>
        parties.every((r) =>
          records.every((s) => s.completed.every((n) => !mustHave(r, s, n) || r.receiver.has(s.sender, n))),
        ),
      20_000,
      'every message that must arrive',
    ).catch(() => undefined);
    await sleep(300);
    const problems = parties.flatMap((r) =>
      records.flatMap((s) => numberedProblems(r.receiver, s, (n) => mustHave(r, s, n))),
    );
    assert.deepEqual(problems, [], 'per sender: nothing missing, nothing twice, in order');
    for (const p of moved) {
      const own = records.find((r) => r.sender === p.label)!;
      assert.ok(
        p.receiver.from(p.label).some((n) => (own.startedAt.get(n) ?? 0) > p.joinedAt),
        `${p.label} receives its own messages after reconnecting`,
      );
    }
    t.diagnostic(
      `moved: ${moved.map((p) => `${p.label}->${p.node}`).join(' ')}; sent ${records.reduce((s, r) => s + r.completed.length, 0)}, failed during the reconnect ${records.reduce((s, r) => s + r.failed.length, 0)}`,
    );
  } finally {
    await server.close();
  }
});

test('--workers 2 --redis: the workers are nodes of the Redis cluster, with a node of another process', async (t) => {
  if (!(await redisClusterSetup.require(t))) return;
  const spec = redisClusterSetup.spec();
  const server = await WorkersServer.start({ workers: 2, backplane: spec });
  let other: NodeProcess | undefined;
  try {
    other = await NodeProcess.start({
      nodeId: `${server.nodeId}-other`,
      backplane: spec,
      prefix: server.prefix,
      jwtSecret: server.jwtSecret,
    });
    const [n1, n2] = server.nodes as [string, string];
    const a = await member(server, 'a', 'ann', n1);
    const b = await member(server, 'b', 'bob', n2);
    const c = await connectClient(`${other.url}/testhub`, {
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
    });
    assert.equal(await c.invoke('GetNodeId'), `${server.nodeId}-other`);
    const before = new Map([a, b].map((m) => [m, m.sends.length]));
    await c.invoke('SendToAll', 'from the other process');
    await expectDeliveries([a, b], 'from the other process', [a, b], before);
    await b.connection.invoke('JoinGroup', 'red');
    const beforeGroup = new Map([a, b].map((m) => [m, m.sends.length]));
    await c.invoke('SendToGroup', 'red', 'to red');
    await expectDeliveries([a, b], 'to red', [b], beforeGroup);
    assert.deepEqual(await c.invoke('GetOnlineUsers'), ['ann', 'bob']);
    await c.stop();
  } finally {
    await server.close();
    await other?.stop();
    await redisClusterSetup.cleanup?.(server.prefix);
  }
});

test('--workers 2: clients that negotiate (WebSockets, Server-Sent Events, long polling) work whichever worker each request reaches: it is forwarded to the worker that holds the connection', async () => {
  const server = await WorkersServer.start({ workers: 2 });
  try {
    const clients: { connection: HubConnection; node: string; sends: unknown[]; label: string }[] = [];
    for (const [label, transport] of [
      ['WebSockets', HttpTransportType.WebSockets],
      ['ServerSentEvents', HttpTransportType.ServerSentEvents],
      ['LongPolling', HttpTransportType.LongPolling],
    ] as const) {
      // A connection lives where its negotiate landed, and the client's negotiates share one
      // keep-alive socket while they can, so several in a row may land on the same worker: open at
      // least 4, and more (up to 16) until connections are on both workers.
      for (let i = 0; i < 16; i++) {
        if (i >= 4 && new Set(clients.map((c) => c.node)).size === server.nodes.length) break;
        const connection = await connectClient(`${server.url}/testhub`, { transport });
        const sends: unknown[] = [];
        connection.on('Send', (x: unknown) => sends.push(x));
        const node = await connection.invoke<string>('GetNodeId');
        clients.push({ connection, node, sends, label: `${label}#${i}@${node}` });
      }
    }
    assert.deepEqual(
      [...new Set(clients.map((c) => c.node))].sort(),
      server.nodes,
      'connections on both workers',
    );
    // Every client sends, every client hears every send once (polls and POSTs of each connection
    // reach either worker meanwhile).
    for (const [i, c] of clients.entries()) await c.connection.invoke('SendToAll', `m${i}`);
    await waitFor(
      () => clients.every((c) => c.sends.length >= clients.length),
      15_000,
      'every send everywhere',
    );
    await sleep(200);
    for (const c of clients)
      assert.deepEqual([...c.sends].sort(), clients.map((_, i) => `m${i}`).sort(), c.label);
    await Promise.all(clients.map((c) => c.connection.stop()));
  } finally {
    await server.close();
  }
});
