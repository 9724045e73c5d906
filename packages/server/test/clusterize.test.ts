// clusterize: a HubServer on 2 worker processes that share one port, joined by the in-box bus
// (fixtures/clusterize-app.ts). Clients connect straight over WebSockets (skipNegotiation: a
// negotiate and the WebSocket after it could land on different workers); node:cluster spreads the
// connections over the workers.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HttpTransportType, type HubConnection } from '@microsoft/signalr';
import { connectClient, waitFor } from '../../testkit/src/clients.ts';
import { ChildHandle } from '../../testkit/src/cluster/processes.ts';
import { signJwt } from '../src/auth/jwt.ts';

const APP = fileURLToPath(new URL('./fixtures/clusterize-app.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

after(() => ChildHandle.killAll());

async function startApp(): Promise<{ handle: ChildHandle; port: number }> {
  const handle = ChildHandle.spawn(
    'clusterize app',
    process.execPath,
    ['--conditions=source', '--import', 'tsx', APP],
    {
      cwd: ROOT,
      env: { ...process.env, LEASE_MS: '1500' },
    },
  );
  const match = await handle.waitForLine(/^listening (\d+)/, 180_000);
  return { handle, port: Number(match[1]) };
}

/** Connects clients until there is one on each worker; returns them by node id. */
async function onEveryWorker(
  port: number,
  user: (i: number) => string,
): Promise<Map<string, HubConnection[]>> {
  const byNode = new Map<string, HubConnection[]>();
  for (let i = 0; byNode.size < 2 && i < 20; i++) {
    const connection = await connectClient(`http://127.0.0.1:${port}/hub`, {
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
      accessTokenFactory: () => signJwt({ sub: user(i) }, 'clusterize-test-secret'),
    });
    const node = (await connection.invoke('GetNodeId')) as string;
    byNode.set(node, [...(byNode.get(node) ?? []), connection]);
  }
  assert.deepEqual([...byNode.keys()].sort(), ['box-1', 'box-2'], 'connections landed on both workers');
  return byNode;
}

test('clusterize: sends, groups and client results span the workers; a killed worker is replaced and its presence leaves within the lease; SIGTERM drains and exits 0', async () => {
  const { handle, port } = await startApp();
  const byNode = await onEveryWorker(port, (i) => `user-${i}`);
  const a = byNode.get('box-1')![0]!;
  const b = byNode.get('box-2')![0]!;
  const all = [...byNode.values()].flat();

  // Every client hears a broadcast made on either worker, once.
  const heard = new Map<HubConnection, string[]>();
  for (const c of all) {
    heard.set(c, []);
    c.on('text', (text: string, from: string) => heard.get(c)!.push(`${text}@${from}`));
  }
  await a.invoke('SendToAll', 'one');
  await b.invoke('SendToAll', 'two');
  await waitFor(() => all.every((c) => heard.get(c)!.length === 2), 5_000, 'both broadcasts everywhere');
  for (const c of all) assert.deepEqual(heard.get(c)!.sort(), ['one@box-1', 'two@box-2']);

  // A group joined on one worker receives a send made on the other.
  await b.invoke('JoinGroup', 'g');
  await a.invoke('SendToGroup', 'g', 'to-group');
  await waitFor(() => heard.get(b)!.includes('to-group@box-1'), 5_000, 'the group send');

  // A client result asked on one worker of a connection on the other.
  b.on('question', (from: string) => `answered on box-2 for ${from}`);
  const bId = (await b.invoke('GetCallerConnectionId')) as string;
  assert.equal(await a.invoke('AskClient', bId), 'answered on box-2 for box-1');

  // Presence: B's user is seen from A's worker; SIGKILL B's worker: replaced, and B's user leaves.
  const bUser = `user-${all.indexOf(b)}`;
  assert.equal(await a.invoke('GetUserConnectionCount', bUser), 1);
  const bPid = (await b.invoke('GetPid')) as number;
  const closed = new Promise<void>((resolve) => b.onclose(() => resolve()));
  process.kill(bPid, 'SIGKILL');
  await closed;
  await handle.waitForLine(new RegExp(`^exited pid ${bPid} null SIGKILL`), 10_000);
  await waitFor(
    () => handle.output.filter((l) => /^worker pid \d+ listening/.test(l)).length >= 3,
    30_000,
    'the replacement worker',
  );
  let count = 1;
  const deadline = Date.now() + 5_000; // the lease is 1.5 s; a heartbeat is a third of it
  while (Date.now() < deadline && count !== 0) {
    count = (await a.invoke('GetUserConnectionCount', bUser)) as number;
    if (count !== 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(count, 0, "the killed worker's connection left presence");
  // The replacement is node box-2 again and serves.
  const again = await onEveryWorker(port, (i) => `again-${i}`);
  assert.ok(again.get('box-2'));

  for (const c of [...all, ...[...again.values()].flat()]) await c.stop();
  await handle.kill('SIGTERM', 20_000);
  assert.equal(await handle.exited, 0, `exit code after SIGTERM:\n${handle.tail()}`);
});
