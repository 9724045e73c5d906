// Senders of TestHub across four connections of two users and an anonymous one, user identity
// from /generateJwtToken tokens, and /authorizedhub (docs/protocol.md#authentication,
// docs/protocol.md#conformance).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import type { ConformanceServer } from '@switchboard/conformance';
import { NAME_IDENTIFIER_CLAIM, signJwt, verifyJwt } from '@switchboard/server';
import { connect, fetchToken, jwtPayload, startQuietServer, stopAll } from './helpers.ts';

let server: ConformanceServer;
let alice1: HubConnection;
let alice2: HubConnection;
let bob: HubConnection;
let anon: HubConnection;
let all: HubConnection[];
let received: unknown[][];

before(async () => {
  server = await startQuietServer();
  const [aliceToken, bobToken] = await Promise.all([
    fetchToken(server.url, 'alice'),
    fetchToken(server.url, 'bob'),
  ]);
  [alice1, alice2, bob, anon] = await Promise.all([
    connect(server, '/testhub', { token: aliceToken }),
    connect(server, '/testhub', { token: aliceToken }),
    connect(server, '/testhub', { token: bobToken }),
    connect(server, '/testhub'),
  ]);
  all = [alice1, alice2, bob, anon];
  received = all.map(() => []);
  all.forEach((c, i) => {
    c.on('Send', (x: unknown) => received[i]!.push(x));
  });
});

after(async () => {
  await stopAll(all);
  await server.close();
});

/**
 * Runs `step`, then one Echo round trip on every connection (anything the step sent each one was
 * queued before, so it has arrived), and returns and clears what each got.
 */
async function deliveries(step: () => Promise<unknown>): Promise<unknown[][]> {
  await step();
  await Promise.all(all.map((c) => c.invoke('Echo', 'barrier')));
  const got = received.map((log) => [...log]);
  for (const log of received) log.length = 0;
  return got;
}

test('GetUserIdentifier is the token user, or null without a token', async () => {
  assert.deepEqual(await Promise.all(all.map((c) => c.invoke('GetUserIdentifier'))), [
    'alice',
    'alice',
    'bob',
    null,
  ]);
});

test('JoinGroup, SendToGroup, SendToOthersInGroup, LeaveGroup', async () => {
  await alice1.invoke('JoinGroup', 'g');
  await bob.invoke('JoinGroup', 'g');
  assert.deepEqual(await deliveries(() => anon.invoke('SendToGroup', 'g', 'to g')), [
    ['to g'],
    [],
    ['to g'],
    [],
  ]);
  assert.deepEqual(await deliveries(() => alice1.invoke('SendToOthersInGroup', 'g', { n: 1 })), [
    [],
    [],
    [{ n: 1 }],
    [],
  ]);
  await bob.invoke('LeaveGroup', 'g');
  assert.deepEqual(await deliveries(() => bob.invoke('SendToGroup', 'g', 'after leave')), [
    ['after leave'],
    [],
    [],
    [],
  ]);
  await alice1.invoke('LeaveGroup', 'g');
  assert.deepEqual(await deliveries(() => bob.invoke('SendToGroup', 'g', 'empty')), [[], [], [], []]);
});

test('SendToUser reaches every connection of that user', async () => {
  assert.deepEqual(await deliveries(() => bob.invoke('SendToUser', 'alice', 'hi alice')), [
    ['hi alice'],
    ['hi alice'],
    [],
    [],
  ]);
  assert.deepEqual(await deliveries(() => anon.invoke('SendToUser', 'nobody', 'x')), [[], [], [], []]);
});

test('SendToAll, SendToOthers, SendToConnection', async () => {
  assert.deepEqual(await deliveries(() => anon.invoke('SendToAll', 7)), [[7], [7], [7], [7]]);
  assert.deepEqual(await deliveries(() => alice1.invoke('SendToOthers', [1, 2])), [
    [],
    [[1, 2]],
    [[1, 2]],
    [[1, 2]],
  ]);
  assert.deepEqual(await deliveries(() => alice2.invoke('SendToConnection', bob.connectionId, null)), [
    [],
    [],
    [null],
    [],
  ]);
});

test('/generateJwtToken issues an HS256 token for testuser by default, living 5 s', async () => {
  const token = await fetchToken(server.url);
  const checked = verifyJwt(token, server.jwtSecret);
  assert.ok(checked.ok);
  const claims = jwtPayload(token);
  assert.equal(claims.sub, 'testuser');
  assert.equal(claims[NAME_IDENTIFIER_CLAIM], 'testuser');
  assert.equal(Number(claims.exp) - Number(claims.iat), 5);
  const response = await fetch(`${server.url}/generateJwtToken?user=carol`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(jwtPayload(await response.text()).sub, 'carol');
});

test('/authorizedhub without a token fails negotiate with the reference 401 text', async () => {
  await assert.rejects(connect(server, '/authorizedhub'), {
    message: "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'",
  });
});

test('/authorizedhub with a token from /generateJwtToken', async () => {
  const token = await fetchToken(server.url);
  const c = await connect(server, '/authorizedhub', { token });
  try {
    assert.equal(await c.invoke('Echo', 'secured'), 'secured');
  } finally {
    await c.stop();
  }
});

test('an expired token is refused by /authorizedhub and anonymous on /testhub', async () => {
  const now = Math.floor(Date.now() / 1000);
  const expired = signJwt({ sub: 'late', [NAME_IDENTIFIER_CLAIM]: 'late' }, server.jwtSecret, {
    lifetimeSeconds: 5,
    nowSeconds: now - 60,
  });
  await assert.rejects(connect(server, '/authorizedhub', { token: expired }), {
    message: "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'",
  });
  const c = await connect(server, '/testhub', { token: expired });
  try {
    assert.equal(await c.invoke('GetUserIdentifier'), null);
  } finally {
    await c.stop();
  }
});

test('tokens of another secret are refused; random secrets differ per server', async () => {
  const other = await startQuietServer({ tokenLifetimeSeconds: 60 });
  try {
    assert.notEqual(other.jwtSecret, server.jwtSecret);
    const foreign = await fetchToken(other.url, 'mallory');
    const claims = jwtPayload(foreign);
    assert.equal(Number(claims.exp) - Number(claims.iat), 60);
    await assert.rejects(connect(server, '/authorizedhub', { token: foreign }), /Status code '401'/);
    const c = await connect(other, '/authorizedhub', { token: foreign });
    await c.stop();
  } finally {
    await other.close();
  }
});
