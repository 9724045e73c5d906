// Every REST route of the reference (api-version 2022-06-01) against a spawned service, with the
// official client connected over JSON and over MessagePack.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { waitFor } from '@switchboard/testkit';
import { collect, connectHub, rest, type ServiceProcess, signToken, startService } from './helpers.ts';

const KEY = 'rest-test-key-0123456789';
const OLD_KEY = 'rest-test-old-key-abcdef';
let service: ServiceProcess;
const clients: HubConnection[] = [];

before(async () => {
  service = await startService([
    '--hub',
    'chat',
    '--hub',
    'shop_orders',
    '--hub',
    'Other',
    '--access-key',
    KEY,
    '--access-key',
    OLD_KEY,
  ]);
});

after(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await service.stop();
});

async function client(user: string | undefined, msgpack = false): Promise<HubConnection> {
  const c = await connectHub(
    service.baseUrl,
    'chat',
    KEY,
    user,
    msgpack ? new MessagePackHubProtocol() : undefined,
  );
  clients.push(c);
  return c;
}

const call = (method: string, path: string, options: Parameters<typeof rest>[4] = {}) =>
  rest(service.baseUrl, KEY, method, path, options);

/** Sends `marker` to all and waits until `got` has it: what came before it has arrived too. */
async function barrier(got: unknown[][], marker: string): Promise<void> {
  assert.equal(
    (await call('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: [marker] } })).status,
    202,
  );
  await waitFor(() => got.some((args) => args[0] === marker), 5_000, marker);
}

test('HEAD /api/health answers 200 without a token', async () => {
  const response = await fetch(`${service.baseUrl}/api/health?api-version=2022-06-01`, { method: 'HEAD' });
  assert.equal(response.status, 200);
});

test('sends: to all (with excluded ids), a connection, a user and a group reach JSON and MessagePack clients', async () => {
  const ada = await client('ada');
  const bob = await client('bob', true);
  const gotAda = collect(ada, 'm');
  const gotBob = collect(bob, 'm');

  let r = await call('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: ['all', 1] } });
  assert.equal(r.status, 202);
  await waitFor(() => gotAda.length === 1 && gotBob.length === 1, 5_000, 'broadcast');
  assert.deepEqual(gotAda[0], ['all', 1]);
  assert.deepEqual(gotBob[0], ['all', 1]);

  r = await call('POST', '/api/hubs/chat/:send', {
    body: { target: 'm', arguments: ['not ada'] },
    query: `excluded=${ada.connectionId}`,
  });
  assert.equal(r.status, 202);
  r = await call('POST', `/api/hubs/chat/connections/${encodeURIComponent(ada.connectionId!)}/:send`, {
    body: { target: 'm', arguments: ['to ada'] },
  });
  assert.equal(r.status, 202);
  r = await call('POST', '/api/hubs/chat/users/bob/:send', { body: { target: 'm', arguments: ['to bob'] } });
  assert.equal(r.status, 202);
  await barrier(gotAda, 'b1');
  await waitFor(() => gotBob.some((a) => a[0] === 'b1'), 5_000, 'b1 on bob');
  assert.deepEqual(
    gotAda.map((a) => a[0]),
    ['all', 'to ada', 'b1'],
  );
  assert.deepEqual(
    gotBob.map((a) => a[0]),
    ['all', 'not ada', 'to bob', 'b1'],
  );

  // A group: add, send (with an exclusion), remove.
  for (const c of [ada, bob]) {
    r = await call('PUT', `/api/hubs/chat/groups/room/connections/${c.connectionId}`);
    assert.equal(r.status, 200);
  }
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/room')).status, 200);
  r = await call('POST', '/api/hubs/chat/groups/room/:send', { body: { target: 'm', arguments: ['room'] } });
  assert.equal(r.status, 202);
  r = await call('POST', '/api/hubs/chat/groups/room/:send', {
    body: { target: 'm', arguments: ['room but bob'] },
    query: `excluded=${bob.connectionId}`,
  });
  assert.equal(r.status, 202);
  r = await call('DELETE', `/api/hubs/chat/groups/room/connections/${ada.connectionId}`);
  assert.equal(r.status, 200);
  r = await call('POST', '/api/hubs/chat/groups/room/:send', {
    body: { target: 'm', arguments: ['room after'] },
  });
  await barrier(gotAda, 'b2');
  await waitFor(() => gotBob.some((a) => a[0] === 'b2'), 5_000, 'b2 on bob');
  assert.deepEqual(gotAda.map((a) => a[0]).slice(3), ['room', 'room but bob', 'b2']);
  assert.deepEqual(gotBob.map((a) => a[0]).slice(4), ['room', 'room after', 'b2']);

  // Remove a connection from all groups.
  await call('PUT', `/api/hubs/chat/groups/g2/connections/${bob.connectionId}`);
  r = await call('DELETE', `/api/hubs/chat/connections/${bob.connectionId}/groups`);
  assert.equal(r.status, 200);
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/room')).status, 404);
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/g2')).status, 404);
});

test('existence checks: connection, user, group, user in group', async () => {
  const cy = await client('cy');
  assert.equal((await call('HEAD', `/api/hubs/chat/connections/${cy.connectionId}`)).status, 200);
  assert.equal((await call('HEAD', '/api/hubs/chat/connections/nope')).status, 404);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/cy')).status, 200);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/nobody')).status, 404);
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/cy-group')).status, 404);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/cy/groups/cy-group')).status, 404);
  await call('PUT', `/api/hubs/chat/groups/cy-group/connections/${cy.connectionId}`);
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/cy-group')).status, 200);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/cy/groups/cy-group')).status, 200);
  // A connection that does not exist cannot join or leave a group.
  const missing = await call('PUT', '/api/hubs/chat/groups/cy-group/connections/nope');
  assert.equal(missing.status, 404);
  assert.equal((missing.body as { error: { code: string } }).error.code, 'SB_ERR_SVC_NOT_FOUND');
  assert.equal((await call('DELETE', '/api/hubs/chat/groups/cy-group/connections/nope')).status, 404);
  // Another hub does not see this hub's connections.
  assert.equal((await call('HEAD', `/api/hubs/other/connections/${cy.connectionId}`)).status, 404);
});

test('user groups: add with a TTL (current and later connections), check, remove, remove from all', async () => {
  const dee = await client('dee');
  const got = collect(dee, 'm');
  let r = await call('PUT', '/api/hubs/chat/users/dee/groups/fans', { query: 'ttl=60' });
  assert.equal(r.status, 200);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/dee/groups/fans')).status, 200);
  // A later connection of the same user joins the group too (JSON and MessagePack alike).
  const dee2 = await client('dee', true);
  const got2 = collect(dee2, 'm');
  await call('POST', '/api/hubs/chat/groups/fans/:send', { body: { target: 'm', arguments: ['fans'] } });
  await waitFor(() => got.length === 1 && got2.length === 1, 5_000, 'the group send to both connections');
  assert.deepEqual(got2[0], ['fans']);

  r = await call('DELETE', '/api/hubs/chat/users/dee/groups/fans');
  assert.equal(r.status, 204);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/dee/groups/fans')).status, 404);
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/fans')).status, 404);

  await call('PUT', '/api/hubs/chat/users/dee/groups/a');
  await call('PUT', '/api/hubs/chat/users/dee/groups/b');
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/a')).status, 200);
  r = await call('DELETE', '/api/hubs/chat/users/dee/groups');
  assert.equal(r.status, 204);
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/a')).status, 404);
  assert.equal((await call('HEAD', '/api/hubs/chat/users/dee/groups/b')).status, 404);
});

test('a user-group membership ends with its TTL; ttl=0 adds only the current connections', async () => {
  const eve = await client('eve');
  await call('PUT', '/api/hubs/chat/users/eve/groups/short', { query: 'ttl=1' });
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/short')).status, 200);
  const deadline = Date.now() + 10_000;
  let status = 200;
  while (status === 200 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = (await call('HEAD', '/api/hubs/chat/users/eve/groups/short')).status;
  }
  assert.equal(status, 404, 'the membership expired');
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/short')).status, 404);

  await call('PUT', '/api/hubs/chat/users/eve/groups/now', { query: 'ttl=0' });
  assert.equal((await call('HEAD', '/api/hubs/chat/groups/now')).status, 200);
  const eve2 = await client('eve');
  assert.equal((await call('HEAD', `/api/hubs/chat/connections/${eve2.connectionId}`)).status, 200);
  await call('DELETE', `/api/hubs/chat/groups/now/connections/${eve.connectionId}`);
  assert.equal(
    (await call('HEAD', '/api/hubs/chat/groups/now')).status,
    404,
    'the later connection did not join',
  );
  assert.equal((await call('PUT', '/api/hubs/chat/users/eve/groups/x', { query: 'ttl=-1' })).status, 400);
});

test('closes: a connection (with a reason), a user, a group, the hub (with excluded ids)', async () => {
  const closed = (c: HubConnection) =>
    new Promise<Error | undefined>((resolve) => c.onclose((error) => resolve(error)));
  const f1 = await client('fay');
  const f1Closed = closed(f1);
  let r = await call('DELETE', `/api/hubs/chat/connections/${f1.connectionId}`, {
    query: 'reason=bye%20now',
  });
  assert.equal(r.status, 200);
  assert.match(String((await f1Closed)?.message), /bye now/);

  const g1 = await client('gus');
  const g2 = await client('gus', true);
  const keep = await client('gus');
  const gone = [closed(g1), closed(g2)];
  r = await call('POST', '/api/hubs/chat/users/gus/:closeConnections', {
    query: `excluded=${keep.connectionId}`,
  });
  assert.equal(r.status, 204);
  await Promise.all(gone);
  assert.equal((await call('HEAD', `/api/hubs/chat/connections/${keep.connectionId}`)).status, 200);

  const h1 = await client('hal');
  await call('PUT', `/api/hubs/chat/groups/closing/connections/${h1.connectionId}`);
  await call('PUT', `/api/hubs/chat/groups/closing/connections/${keep.connectionId}`);
  const h1Closed = closed(h1);
  r = await call('POST', '/api/hubs/chat/groups/closing/:closeConnections', {
    query: `excluded=${keep.connectionId}&reason=group%20closed`,
  });
  assert.equal(r.status, 204);
  assert.match(String((await h1Closed)?.message), /group closed/);
  assert.equal((await call('HEAD', `/api/hubs/chat/connections/${keep.connectionId}`)).status, 200);

  const others = clients.filter((c) => c.state === 'Connected' && c !== keep);
  const othersClosed = others.map(closed);
  r = await call('POST', '/api/hubs/chat/:closeConnections', { query: `excluded=${keep.connectionId}` });
  assert.equal(r.status, 204);
  await Promise.all(othersClosed);
  assert.equal(keep.state, 'Connected');
  const keepClosed = closed(keep);
  await call('POST', '/api/hubs/chat/:closeConnections');
  await keepClosed;
});

test('tokens: wrong key, wrong audience, expired, no exp and none are refused with 401; both keys pass', async () => {
  const path = '/api/hubs/chat/:send';
  const body = { target: 'm', arguments: [] };
  const audience = `${service.baseUrl}${path}`;
  const cases: [string, string | undefined][] = [
    ['wrong key', await signToken('not-the-key', {}, { audience })],
    ['wrong audience', await signToken(KEY, {}, { audience: `${service.baseUrl}/api/hubs/other/:send` })],
    ['expired', await signToken(KEY, {}, { audience, expiresInSeconds: -60 })],
    ['no exp', await signToken(KEY, {}, { audience, noExp: true })],
    ['garbage', 'not.a.jwt'],
  ];
  for (const [what, token] of cases) {
    const r = await call('POST', path, { body, token: token! });
    assert.equal(r.status, 401, what);
    assert.equal((r.body as { error: { code: string } }).error.code, 'SB_ERR_SVC_UNAUTHORIZED', what);
  }
  const none = await fetch(`${service.baseUrl}${path}?api-version=2022-06-01`, {
    method: 'POST',
    body: '{}',
  });
  assert.equal(none.status, 401);
  const old = await signToken(OLD_KEY, {}, { audience });
  assert.equal((await call('POST', path, { body, token: old })).status, 202, 'the second key is valid too');
  assert.equal((await rest(service.baseUrl, OLD_KEY, 'POST', path, { body })).status, 202);
});

test('clients: a token for another hub, expired or with a wrong key cannot connect; the user id is the nameid', async () => {
  const url = `${service.baseUrl}/client/?hub=chat`;
  const negotiate = async (token: string) =>
    (
      await fetch(`${service.baseUrl}/client/negotiate?hub=chat&negotiateVersion=1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      })
    ).status;
  assert.equal(await negotiate(await signToken(KEY, { nameid: 'x' }, { audience: url })), 200);
  assert.equal(await negotiate(await signToken('wrong', { nameid: 'x' }, { audience: url })), 401);
  assert.equal(
    await negotiate(
      await signToken(KEY, { nameid: 'x' }, { audience: `${service.baseUrl}/client/?hub=other` }),
    ),
    401,
  );
  assert.equal(
    await negotiate(await signToken(KEY, { nameid: 'x' }, { audience: url, expiresInSeconds: -10 })),
    401,
  );
  assert.equal(await negotiate(await signToken(KEY, { nameid: 'x' }, { audience: url, noExp: true })), 401);
  const unknownHub = await fetch(`${service.baseUrl}/client/negotiate?hub=nope&negotiateVersion=1`, {
    method: 'POST',
  });
  assert.equal(unknownHub.status, 404);
  // `sub` works as the user id too.
  const viaSub = await connectHubWithClaims({ sub: 'subby' });
  const got = collect(viaSub, 'm');
  await call('POST', '/api/hubs/chat/users/subby/:send', { body: { target: 'm', arguments: ['by sub'] } });
  await waitFor(() => got.length === 1, 5_000, 'the user send to the sub');
});

async function connectHubWithClaims(claims: Record<string, unknown>): Promise<HubConnection> {
  const { connectClient } = await import('@switchboard/testkit');
  const url = `${service.baseUrl}/client/?hub=chat`;
  const c = await connectClient(url, { accessTokenFactory: () => signToken(KEY, claims, { audience: url }) });
  clients.push(c);
  return c;
}

test('bad input: a bad body, a missing api-version, an unknown hub or route, a long group name', async () => {
  let r = await call('POST', '/api/hubs/chat/:send', { body: 'not json' });
  assert.equal(r.status, 400);
  assert.equal((r.body as { error: { code: string } }).error.code, 'SB_ERR_SVC_INVALID_REQUEST');
  r = await call('POST', '/api/hubs/chat/:send', { body: { arguments: [] } });
  assert.equal(r.status, 400);
  assert.equal((r.body as { error: { field: string } }).error.field, 'target');
  r = await call('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: 'x' } });
  assert.equal(r.status, 400);
  r = await call('POST', '/api/hubs/chat/:send', { body: { target: 'm' }, apiVersion: null });
  assert.equal(r.status, 400);
  assert.equal((r.body as { error: { field: string } }).error.field, 'api-version');
  r = await call('POST', '/api/hubs/nope/:send', { body: { target: 'm' } });
  assert.equal(r.status, 404);
  // The application parameter names the hub <application>_<hub>, as the reference.
  r = await call('POST', '/api/hubs/orders/:send', { body: { target: 'm' }, query: 'application=shop' });
  assert.equal(r.status, 202);
  r = await call('POST', '/api/hubs/chat/whatever', { body: { target: 'm' } });
  assert.equal(r.status, 404);
  r = await call('HEAD', `/api/hubs/chat/groups/${'g'.repeat(1025)}`);
  assert.equal(r.status, 400);
  r = await call('POST', '/api/hubs/chat/:send', {
    body: JSON.stringify({ target: 'm', arguments: ['x'.repeat(1024 * 1024)] }),
  });
  assert.equal(r.status, 413);
});
