// The limits of a HubServer run by clusterize are shared by its workers, never multiplied by them
// (docs/server.md#limits-with-workers): 2 workers (fixtures/clusterize-limits-app.ts), and clients
// whose connections node:cluster spreads over both (round robin). Every test would let through
// twice the allowance if each worker counted alone.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { connectClient } from '../../testkit/src/clients.ts';
import { ChildHandle } from '../../testkit/src/cluster/processes.ts';
import { signJwt } from '../src/auth/jwt.ts';

const APP = fileURLToPath(new URL('./fixtures/clusterize-limits-app.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

after(() => ChildHandle.killAll());

async function startApp(env: Record<string, string>): Promise<{ handle: ChildHandle; port: number }> {
  const handle = ChildHandle.spawn(
    'clusterize limits app',
    process.execPath,
    ['--conditions=source', '--import', 'tsx', APP],
    { cwd: ROOT, env: { ...process.env, ...env } },
  );
  const match = await handle.waitForLine(/^listening (\d+)/, 180_000);
  return { handle, port: Number(match[1]) };
}

async function stopApp(handle: ChildHandle): Promise<void> {
  await handle.kill('SIGTERM', 20_000);
}

const token = (user: string) => signJwt({ sub: user }, 'wlmh-secret');

function connectWs(port: number, user: string): Promise<HubConnection> {
  return connectClient(`http://127.0.0.1:${port}/hub`, {
    transport: HttpTransportType.WebSockets,
    skipNegotiation: true,
    accessTokenFactory: () => token(user),
  });
}

test('clusterize limits: maxConnectionsPerUser holds across the workers; a place given back, or held by a worker that died, is taken again', async () => {
  const { handle, port } = await startApp({ LIMIT_USER_CONNECTIONS: '2' });
  try {
    // Another user's connections show the round robin: consecutive connections land on both workers.
    const probes: HubConnection[] = [];
    const nodes = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const probe = await connectWs(port, `wlmh_probe_${i}`);
      probes.push(probe);
      nodes.add((await probe.invoke('GetNodeId')) as string);
    }
    assert.deepEqual([...nodes].sort(), ['wlmh-1', 'wlmh-2'], 'connections land on both workers');

    const held = [await connectWs(port, 'wlmh_user'), await connectWs(port, 'wlmh_user')];
    // Six more attempts: round robin sends at least two to each worker; each is refused.
    for (let i = 0; i < 6; i++) {
      await assert.rejects(connectWs(port, 'wlmh_user'), /Too many connections for this user/);
    }
    // Another user is not concerned.
    const other = await connectWs(port, 'wlmh_other');
    await other.stop();
    // A place given back (on whichever worker) is free for the next connection, wherever it lands.
    await held[0]!.stop();
    let again: HubConnection | undefined;
    for (let i = 0; i < 20 && !again; i++) {
      again = await connectWs(port, 'wlmh_user').catch(() => undefined);
      if (!again) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(again, 'the freed place was taken again');
    await assert.rejects(connectWs(port, 'wlmh_user'), /Too many connections for this user/);
    // A worker killed while it holds one of the user's places gives it back (the primary forgets
    // what a dead worker held): the user connects again once the replacement serves.
    const victim = (await again.invoke('GetPid')) as number;
    const lost = new Promise<void>((resolve) => again!.onclose(() => resolve()));
    process.kill(victim, 'SIGKILL');
    await lost;
    // held[1] may have been on the same worker, and gone with it.
    await new Promise((r) => setTimeout(r, 200));
    const alive = held[1]!.state === 'Connected' ? [held[1]!] : [];
    const back: HubConnection[] = [];
    for (let i = 0; i < 100 && alive.length + back.length < 2; i++) {
      const c = await connectWs(port, 'wlmh_user').catch(() => undefined);
      if (c) back.push(c);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(alive.length + back.length, 2, "the dead worker's places were given back");
    await assert.rejects(connectWs(port, 'wlmh_user'), /Too many connections for this user/);
    for (const c of [...probes, ...alive, ...back]) await c.stop().catch(() => undefined);
  } finally {
    await stopApp(handle);
  }
});

/** Opens a socket, sends one GET, and answers its status line and body (the socket stays open). */
function getOnNewSocket(port: number): Promise<{ socket: Socket; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => {
      socket.write('GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length < end + 4 + length) return;
      socket.removeAllListeners('data');
      resolve({ socket, status: Number(text.split(' ')[1]), body: text.slice(end + 4, end + 4 + length) });
    });
    socket.on('error', reject);
  });
}

test('clusterize limits: maxSocketsPerIp holds across the workers', async () => {
  const { handle, port } = await startApp({ LIMIT_SOCKETS_PER_IP: '2' });
  try {
    const first = await getOnNewSocket(port);
    const second = await getOnNewSocket(port);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    // Round robin: the two open sockets sit one on each worker, and so do the refused ones.
    assert.deepEqual([first.body, second.body].sort(), ['wlmh-1', 'wlmh-2']);
    for (let i = 0; i < 6; i++) {
      const refused = await getOnNewSocket(port);
      assert.equal(refused.status, 429, `socket ${i + 3} is over the cap`);
      assert.equal(refused.body, 'Too many connections from this address.');
      refused.socket.destroy();
    }
    // One closed: a new socket is served again.
    first.socket.destroy();
    let served = false;
    for (let i = 0; i < 20 && !served; i++) {
      const next = await getOnNewSocket(port);
      served = next.status === 200;
      if (!served) {
        next.socket.destroy();
        await new Promise((r) => setTimeout(r, 50));
      } else next.socket.destroy();
    }
    assert.ok(served, 'a socket is served once one is closed');
    second.socket.destroy();
  } finally {
    await stopApp(handle);
  }
});

/** One negotiate on a new socket (no keep-alive): its status code and body. */
function negotiate(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/hub/negotiate?negotiateVersion=1',
        agent: false,
        headers: { Authorization: `Bearer ${token('wlmh_negotiator')}`, 'Content-Length': 0 },
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('clusterize limits: negotiateRateLimit holds across the workers', async () => {
  const { handle, port } = await startApp({ LIMIT_NEGOTIATE_BURST: '3' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await negotiate(port)).status);
    // A burst of 3 for the machine: each worker alone would have let 3 through (6 in all).
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429, 429, 429]);
  } finally {
    await stopApp(handle);
  }
});

test("clusterize limits: a user's invocation budget is split between the workers that hold the user's connections", async () => {
  const { handle, port } = await startApp({ LIMIT_INVOKE_BURST: '10' });
  try {
    const connections: HubConnection[] = [];
    const nodes = new Set<string>();
    for (let i = 0; i < 6 && nodes.size < 2; i++) {
      const c = await connectWs(port, 'wlmh_invoker');
      connections.push(c);
      nodes.add((await c.invoke('GetNodeId')) as string);
    }
    assert.equal(nodes.size, 2, "the user's connections sit on both workers");
    // Let the primary's shares reach both workers (one IPC round trip each).
    await new Promise((r) => setTimeout(r, 300));
    let ok = 0;
    let refused = 0;
    for (let round = 0; round < 12; round++) {
      for (const c of connections) {
        try {
          await c.invoke('Ping');
          ok++;
        } catch (error) {
          assert.match(String(error), /SB_ERR_RATE_LIMITED.*user limit/);
          refused++;
        }
      }
    }
    // One budget of 10 for the user on the machine (the GetNodeId calls took 2 or 3 of it).
    console.log(`wlmh invocations: ${ok} served, ${refused} refused`);
    assert.ok(ok <= 10, `at most the user's budget went through: ${ok}`);
    assert.ok(ok >= 4, `the user was served within the budget: ${ok}`);
    assert.ok(refused > 0);
    for (const c of connections) await c.stop();
  } finally {
    await stopApp(handle);
  }
});
