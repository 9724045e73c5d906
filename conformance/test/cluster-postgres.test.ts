/**
 * Issue #5 on the conformance server: processes given the same PostgreSQL database, prefix (so
 * schema) and JWT secret form one cluster (sends, remote groups, client results and presence
 * answer for every node).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { schemaFromPrefix } from '@switchboard/backplane-postgres';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import { connect, startQuietServer, stopAll } from './helpers.ts';

const POSTGRES = { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 } as const;
const URL = 'postgres://postgres@127.0.0.1:5432/test';

test('two conformance processes on one PostgreSQL database behave as one server', async (t) => {
  if (!(await requireService(t, POSTGRES))) return;
  const cluster = {
    postgres: URL,
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
    const admin = new pg.Client(URL);
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schemaFromPrefix(cluster.prefix)}" CASCADE`);
    await admin.end();
  }
});
