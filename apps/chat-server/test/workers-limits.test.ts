// WORKERS=2 on SQLite: the limits the hub server keeps in memory (MAX_CONNECTIONS_PER_USER,
// NEGOTIATE_RATE_LIMIT, INVOKE_RATE_LIMIT per user) are shared by the workers through the primary
// process, never multiplied by them (README "Limits with workers"). Clients are pinned to each
// worker in turn (worker-cluster.ts), so each limit is tried on both.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { postOn, socketOnWorker, startWorkerCluster } from './worker-cluster.ts';

test('WORKERS=2: MAX_CONNECTIONS_PER_USER, NEGOTIATE_RATE_LIMIT and INVOKE_RATE_LIMIT hold for both workers together', async () => {
  const cluster = await startWorkerCluster({
    workers: 2,
    nodes: 2,
    env: { MAX_CONNECTIONS_PER_USER: '2', NEGOTIATE_RATE_LIMIT: '3', INVOKE_RATE_LIMIT: '1' },
  });
  after(() => cluster.close());
  const [w1, w2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const port = Number(new URL(w1.url).port);

  // Negotiates from one address, alternating workers: 3 per minute for the machine (unsigned
  // ones get 401 while tokens last, then 429), not 3 on each worker.
  const statuses: string[] = [];
  for (let i = 0; i < 6; i++) {
    const node = i % 2 === 0 ? w1 : w2;
    const socket = await socketOnWorker(port, node.nodeId);
    statuses.push(
      `${node.nodeId.slice(-1)}:${await postOn(socket, '/hubs/chat/negotiate?negotiateVersion=1')}`,
    );
    socket.destroy();
  }
  assert.deepEqual(statuses, ['1:401', '2:401', '1:401', '2:429', '1:429', '2:429']);

  // Two connections of one user, one on each worker: a third is refused on either worker.
  const wlmh = await cluster.register('wlmh_u');
  const held: HubConnection[] = [await w1.connect(wlmh.token), await w2.connect(wlmh.token)];
  assert.notEqual(await held[0]!.invoke('listRooms'), undefined);
  await assert.rejects(w1.connect(wlmh.token), /Too many connections for this user/);
  await assert.rejects(w2.connect(wlmh.token), /Too many connections for this user/);

  // INVOKE_RATE_LIMIT=1: a burst of 10 invocations for the user on the machine, split between
  // the two workers (each worker alone would allow 10, 20 in all). The listRooms above took one.
  let ok = 1;
  let refused = 0;
  const started = Date.now();
  for (let round = 0; round < 12; round++) {
    for (const c of held) {
      try {
        await c.invoke('listRooms');
        ok++;
      } catch (error) {
        assert.match(String(error), /RATE_LIMITED|Too many invocations/);
        refused++;
      }
    }
  }
  const refilled = Math.ceil((Date.now() - started) / 1000);
  assert.ok(refused > 0, 'some invocations were refused');
  assert.ok(ok <= 10 + refilled, `at most one budget went through: ${ok} in ${Date.now() - started} ms`);

  // A place given back is free again, on either worker.
  await held[1]!.stop();
  const again = await w1.connect(wlmh.token).catch(async () => {
    await new Promise((r) => setTimeout(r, 200));
    return w1.connect(wlmh.token);
  });
  await again.stop();
});
