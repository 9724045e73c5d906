// The user-group memberships of a cluster, kept in its backplane: a membership added on node A
// applies to the user's connections on node B, those that open later included, and on a node
// started after every node that knew it stopped; removal on any node applies everywhere; existence
// checks agree on every node; a TTL ends it everywhere.
import assert from 'node:assert/strict';
import type { HubConnection } from '@microsoft/signalr';
import { waitFor } from '@switchboard/testkit';
import { collect, connectHub, rest, type ServiceProcess, startService } from './helpers.ts';

const KEY = 'user-groups-key';

/** Waits until `check` answers `status` on `node` (another node's part may lag a little). */
async function eventually(node: ServiceProcess, path: string, status: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await rest(node.baseUrl, KEY, 'HEAD', path)).status;
    if (last === status) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(last, status, `HEAD ${path} on ${node.baseUrl}`);
}

/** A group send through `node`'s REST API. */
async function sendGroup(node: ServiceProcess, group: string, text: string): Promise<void> {
  const sent = await rest(node.baseUrl, KEY, 'POST', `/api/hubs/chat/groups/${group}/:send`, {
    body: { target: 'm', arguments: [text] },
  });
  assert.equal(sent.status, 202);
}

/**
 * Runs the scenario on nodes started with `backplaneArgs` (`--backplane KIND --backplane-url URL
 * --backplane-prefix P`), every node of the run on the same prefix.
 */
export async function userGroupsAcrossNodes(backplaneArgs: readonly string[]): Promise<void> {
  const args = ['--hub', 'chat', '--access-key', KEY, ...backplaneArgs];
  const nodes: ServiceProcess[] = [];
  const clients: HubConnection[] = [];
  const node = async (id: string) => {
    const started = await startService([...args, '--node-id', id]);
    nodes.push(started);
    return started;
  };
  const connect = async (on: ServiceProcess, user: string) => {
    const client = await connectHub(on.baseUrl, 'chat', KEY, user);
    clients.push(client);
    return client;
  };
  try {
    const a = await node('A');
    const b = await node('B');
    // Added on A before the user has any connection anywhere.
    const put = await rest(a.baseUrl, KEY, 'PUT', '/api/hubs/chat/users/ugo/groups/crew', {
      query: 'ttl=600',
    });
    assert.equal(put.status, 200);
    await eventually(b, '/api/hubs/chat/users/ugo/groups/crew', 200);
    // A connection that opens later on B is in the group: a send through A reaches it.
    const onB = await connect(b, 'ugo');
    const gotB = collect(onB, 'm');
    await sendGroup(a, 'crew', 'one');
    await waitFor(() => gotB.length === 1, 10_000, 'the group send to the connection on B');
    await eventually(a, '/api/hubs/chat/groups/crew', 200);

    // Every node stops; a node started afterwards still knows the membership.
    await onB.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    nodes.length = 0;
    const c = await node('C');
    const d = await node('D');
    await eventually(c, '/api/hubs/chat/users/ugo/groups/crew', 200);
    const onC = await connect(c, 'ugo');
    const gotC = collect(onC, 'm');
    await sendGroup(d, 'crew', 'two');
    await waitFor(() => gotC.length === 1, 10_000, 'the group send to the connection on the new node');

    // Removal on D applies everywhere: the checks say so on both nodes, sends no longer reach.
    const removed = await rest(d.baseUrl, KEY, 'DELETE', '/api/hubs/chat/users/ugo/groups/crew');
    assert.equal(removed.status, 204);
    await eventually(c, '/api/hubs/chat/users/ugo/groups/crew', 404);
    await eventually(d, '/api/hubs/chat/users/ugo/groups/crew', 404);
    await eventually(d, '/api/hubs/chat/groups/crew', 404);
    const onD = await connect(d, 'ugo');
    const gotD = collect(onD, 'm');
    await sendGroup(c, 'crew', 'gone');

    // A TTL ends the membership on every node: a connection on each joins, then leaves.
    const ttl = await rest(c.baseUrl, KEY, 'PUT', '/api/hubs/chat/users/ugo/groups/brief', {
      query: 'ttl=2',
    });
    assert.equal(ttl.status, 200);
    await eventually(d, '/api/hubs/chat/users/ugo/groups/brief', 200);
    await sendGroup(d, 'brief', 'brief');
    await waitFor(() => gotC.length === 2 && gotD.length === 1, 10_000, 'the send while the TTL runs');
    await eventually(c, '/api/hubs/chat/users/ugo/groups/brief', 404);
    await eventually(d, '/api/hubs/chat/users/ugo/groups/brief', 404);
    await eventually(c, '/api/hubs/chat/groups/brief', 404);
    await sendGroup(c, 'brief', 'expired');
    // A later send to the user shows that nothing else was on its way.
    await rest(c.baseUrl, KEY, 'POST', '/api/hubs/chat/users/ugo/:send', {
      body: { target: 'm', arguments: ['end'] },
    });
    await waitFor(() => gotC.length === 3 && gotD.length === 2, 10_000, 'the user send');
    assert.deepEqual(
      gotC.map((x) => x[0]),
      ['two', 'brief', 'end'],
    );
    assert.deepEqual(
      gotD.map((x) => x[0]),
      ['brief', 'end'],
    );
  } finally {
    await Promise.all(clients.map((client) => client.stop().catch(() => {})));
    await Promise.all(nodes.map((n) => n.stop()));
  }
}
