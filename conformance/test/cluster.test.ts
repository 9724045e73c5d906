/**
 * Issue #5 on the conformance server, once per backplane (the testkit's cluster setups: Redis,
 * PostgreSQL): processes given the same backplane, prefix and JWT secret form one cluster (sends,
 * remote groups, client results and presence answer for every node). Another backplane is one more
 * entry of `setups`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { parseConformanceArgs } from '@switchboard/conformance';
import {
  type ClusterBackplaneSetup,
  postgresClusterSetup,
  redisClusterSetup,
  waitFor,
} from '@switchboard/testkit';
import { connect, startQuietServer, stopAll } from './helpers.ts';

/** Every backplane the cluster test runs on. */
const setups: readonly ClusterBackplaneSetup[] = [redisClusterSetup, postgresClusterSetup];

for (const setup of setups) {
  test(`two conformance processes on one ${setup.name} behave as one server`, async (t) => {
    if (!(await setup.require(t))) return;
    const spec = setup.spec();
    const cluster = {
      // The server's flag is named after the backplane (--redis, --postgres).
      [spec.kind]: spec.url,
      prefix: `sb-test-${randomUUID()}:`,
      jwtSecret: 'cluster-secret',
      presenceGraceMs: 200,
      leaseMs: 3_000,
    };
    const a = await startQuietServer({ ...cluster, nodeId: 'node-a' });
    const b = await startQuietServer({ ...cluster, nodeId: 'node-b' });
    const clients: HubConnection[] = [];
    try {
      const onA = await connect(a, '/testhub', { token: a.issueToken('ann') });
      const onB = await connect(b, '/testhub', { token: b.issueToken('bob') }); // a's tokens work on b too
      const bobOnA = await connect(a, '/testhub', { token: a.issueToken('bob') });
      clients.push(onA, onB, bobOnA);
      const received = (c: HubConnection) => {
        const log: unknown[] = [];
        c.on('Send', (x) => log.push(x));
        return log;
      };
      const [logA, logB, logBobA] = [onA, onB, bobOnA].map(received) as [unknown[], unknown[], unknown[]];

      await onA.invoke('SendToUser', 'bob', 'to bob everywhere');
      await waitFor(() => logB.length === 1 && logBobA.length === 1, 5_000, 'bob on both nodes');
      assert.deepEqual([logA, logB, logBobA], [[], ['to bob everywhere'], ['to bob everywhere']]);

      // A connection on node B joins a group by a call on node A, and gets the group's messages.
      await onA.invoke('AddConnectionToGroup', onB.connectionId, 'team');
      await onA.invoke('JoinGroup', 'team');
      await onA.invoke('SendToGroup', 'team', 'to the team');
      await waitFor(() => logB.length === 2 && logA.length === 1, 5_000, 'team on both nodes');
      assert.deepEqual(logB, ['to bob everywhere', 'to the team']);
      assert.equal(await onB.invoke('GetGroupConnectionCount', 'team'), 2, 'counted on every node');
      await onA.invoke('RemoveConnectionFromGroup', onB.connectionId, 'team');
      assert.equal(await onA.invoke('GetGroupConnectionCount', 'team'), 1);

      assert.deepEqual(await onB.invoke('GetOnlineUsers'), ['ann', 'bob']);
      assert.equal(await onB.invoke('GetUserConnectionCount', 'bob'), 2);

      // A client result across nodes: node A asks the client connected to node B.
      onB.on('Result', () => 'from b');
      const result = await fetch(`${a.url}/clientresult/${encodeURIComponent(onB.connectionId!)}`);
      assert.equal(await result.text(), 'from b');
    } finally {
      await stopAll(clients);
      await a.close();
      await b.close();
      await setup.cleanup?.(cluster.prefix);
    }
  });
}

test('the cluster flags and their environment variables', () => {
  const parsed = parseConformanceArgs(
    ['--redis', 'redis://127.0.0.1:6379', '--node-id', 'n1', '--lease-ms', '5000'],
    {
      BACKPLANE_PREFIX: 'blue:',
    },
  );
  assert.equal(parsed.kind, 'run');
  if (parsed.kind !== 'run') return;
  assert.equal(parsed.options.redis, 'redis://127.0.0.1:6379');
  assert.equal(parsed.options.nodeId, 'n1');
  assert.equal(parsed.options.prefix, 'blue:');
  assert.equal(parsed.options.leaseMs, 5_000);
  const fromEnv = parseConformanceArgs([], {
    REDIS_URL: 'redis://127.0.0.1:6379',
    NODE_ID: 'n2',
    LEASE_MS: '2000',
  });
  assert.ok(fromEnv.kind === 'run' && fromEnv.options.nodeId === 'n2' && fromEnv.options.leaseMs === 2_000);
  assert.equal(
    parseConformanceArgs(['--lease-ms', '60000', '--redis', 'redis://x']).kind,
    'error',
    'lease at most 15 s',
  );
  assert.equal(parseConformanceArgs(['--node-id', 'n1']).kind, 'error', 'node id without a backplane');
});
