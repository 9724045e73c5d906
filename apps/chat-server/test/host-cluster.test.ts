// Issue #15 across two nodes over one PostgreSQL schema, once per backplane: what the server API
// does on node A reaches a host user connected to node B live; `POST /users/{id}/disconnect` on A
// ends the user's connection on B; an API key revoked on A is refused by B at once. Skips loudly
// without the backplane's services or PostgreSQL (fails under CI=true).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKeyService, hostUserId } from '@switchboard/chat-server';
import { waitFor } from '@switchboard/testkit';
import { chatBackplanes } from './backplanes.ts';
import { type ChatTestServer, record } from './helpers.ts';
import { signToken } from './host-helpers.ts';
import { type TwoNodes, withTwoNodes } from './two-nodes.ts';

const ISSUER = 'https://hsth-cluster.example.test';
const SECRET = 'hsth-cluster-secret-0123456789-abcdef';

for (const backplane of chatBackplanes) {
  test(`the server API on two nodes (${backplane.name} backplane): live delivery, disconnect and key revocation cross nodes`, (t) =>
    withTwoNodes(
      t,
      backplane,
      {
        name: 'hsth',
        nodeIds: ['hsth-a', 'hsth-b'],
        env: { AUTH_ISSUER: ISSUER, AUTH_HS256_SECRET: SECRET },
      },
      serverApi,
    ));
}

async function serverApi({ a, b, run }: TwoNodes): Promise<void> {
  const { key } = await new ApiKeyService(a.app.storage).create('hsth-cluster');
  const call = async (node: ChatTestServer, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${node.url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  const token = await signToken({ secret: SECRET }, { sub: 'hsth-eve', name: 'Eve' }, { issuer: ISSUER });
  const eveOnB = await b.connect(token);
  const events = record(eveOnB);
  const room = await call(a, 'POST', '/rooms', { name: `hsth ${run}`, members: ['hsth-eve'] });
  assert.equal(room.status, 201, JSON.stringify(room.body));
  await waitFor(
    () => events.roomUpdated!.some((e) => e.room.id === room.body.room.id),
    10_000,
    'joined on B',
  );
  const posted = await call(a, 'POST', `/rooms/${room.body.room.id}/messages`, {
    text: 'from the backend',
  });
  assert.equal(posted.status, 201);
  await waitFor(() => events.messageReceived!.length === 1, 10_000, 'the message on B');
  assert.equal(events.messageReceived![0].text, 'from the backend');
  assert.equal(events.messageReceived![0].roomId, room.body.room.id);

  let closed = false;
  eveOnB.onclose(() => {
    closed = true;
  });
  assert.equal((await call(a, 'POST', '/users/hsth-eve/disconnect')).status, 204);
  await waitFor(() => closed, 10_000, "Eve's connection on B closed");
  assert.ok(await b.app.storage.userById(hostUserId(ISSUER, 'hsth-eve')));

  assert.equal((await call(b, 'GET', '/support/requests')).status, 200);
  assert.equal(await new ApiKeyService(a.app.storage).revoke('hsth-cluster'), true);
  const refused = await call(b, 'GET', '/support/requests');
  assert.deepEqual([refused.status, refused.body.error.code], [401, 'SB_CHAT_API_KEY_INVALID']);
}
