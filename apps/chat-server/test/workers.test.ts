// WORKERS: the configuration (default 1, `auto`, refusals), and the chat on 2 workers over one
// SQLite file: each worker a node <NODE_ID>-<k>; a limit kept in the storage (GUEST_RATE_LIMIT per
// address) counts the requests of both workers together, never per worker; clients that negotiate
// work on every transport (requests forwarded between workers); SIGTERM drains both workers and
// exits 0.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { HttpTransportType } from '@microsoft/signalr';
import { loadConfig } from '@switchboard/chat-server';
import { connectClient } from '@switchboard/testkit';
import { postOn, socketOnWorker, startWorkerCluster } from './worker-cluster.ts';

test('configuration: WORKERS is 1 by default, a number from 1, or auto; anything else is refused', () => {
  assert.equal(loadConfig({}).workers, 1);
  assert.equal(loadConfig({ WORKERS: '4' }).workers, 4);
  assert.equal(loadConfig({ WORKERS: 'Auto' }).workers, 'auto');
  for (const bad of ['0', 'two', '1.5', '-1'])
    assert.throws(() => loadConfig({ WORKERS: bad }), { code: 'SB_CHAT_CONFIG_INVALID', field: 'WORKERS' });
  // A backplane still needs shared storage: between machines, not between workers.
  assert.throws(() => loadConfig({ WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379' }), /DATABASE_URL/);
});

test('WORKERS=2 on SQLite: nodes <NODE_ID>-1 and -2; GUEST_RATE_LIMIT holds for both workers together; negotiated clients on every transport; SIGTERM exits 0', async () => {
  const cluster = await startWorkerCluster({ workers: 2, nodes: 2, env: { GUEST_RATE_LIMIT: '3' } });
  let closed = false;
  after(async () => {
    if (!closed) await cluster.close();
  });
  const [n1, n2] = cluster.nodes.map((n) => n.nodeId) as [string, string];
  assert.notEqual(n1, n2);
  assert.match(n1, /-1$/);
  assert.match(n2, /-2$/);
  const port = Number(new URL(cluster.nodes[0]!.url).port);
  // Six guest creations from one address, alternating workers: 3 per minute in all, not 3 each.
  const statuses: string[] = [];
  for (let i = 0; i < 6; i++) {
    const node = i % 2 === 0 ? n1 : n2;
    const socket = await socketOnWorker(port, node);
    statuses.push(`${node.slice(-1)}:${await postOn(socket, '/api/auth/guest', { displayName: `g${i}` })}`);
    socket.destroy();
  }
  assert.deepEqual(statuses, ['1:201', '2:201', '1:201', '2:429', '1:429', '2:429']);
  // Clients that negotiate, as the web app does, over each transport: the negotiate, the
  // WebSocket, the polls and POSTs reach either worker and are forwarded to the one that holds
  // the connection.
  const alice = await cluster.register('alice');
  for (const transport of [
    HttpTransportType.WebSockets,
    HttpTransportType.ServerSentEvents,
    HttpTransportType.LongPolling,
  ]) {
    for (let i = 0; i < 3; i++) {
      const connection = await connectClient(`${cluster.nodes[0]!.url}/hubs/chat`, {
        accessTokenFactory: () => alice.token,
        transport,
      });
      assert.ok(Array.isArray(await connection.invoke('listRooms')), `transport ${transport} #${i}`);
      await connection.stop();
    }
  }
  // Drains every worker, then exits 0.
  const child = cluster.nodes[0]!.child;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  closed = true;
  await cluster.close();
});
