// The account API: register, login, guest, refresh, logout (the token stops working, on the hub
// too), password change, JSON errors naming the field, 401s, and per-IP rate limits.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { waitFor } from '@switchboard/testkit';
import { type ChatTestServer, settle, startChat } from './helpers.ts';

let s: ChatTestServer;
before(async () => {
  s = await startChat({ LOGIN_RATE_LIMIT: '4', GUEST_RATE_LIMIT: '3', TRUST_PROXY: 'true' });
});
after(() => s.close());

/** A unique client IP per test (TRUST_PROXY is on), so rate limits do not cross tests. */
let ipCounter = 0;
const ip = () => ({ 'X-Forwarded-For': `10.0.0.${++ipCounter}` });

async function me(token: string): Promise<number> {
  return (await fetch(`${s.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } })).status;
}

test('register and login answer {token, user: {id, username, displayName, role}}', async () => {
  const r = await s.post('/api/auth/register', {
    username: 'Dora',
    password: 'password123',
    displayName: 'Dora D',
  });
  assert.equal(r.status, 201);
  assert.equal(typeof r.body.token, 'string');
  assert.deepEqual(
    { ...r.body.user, id: typeof r.body.user.id },
    { id: 'string', username: 'dora', displayName: 'Dora D', role: 'user', isGuest: false },
  );
  const login = await s.post(
    '/api/auth/login',
    { username: 'DORA', password: 'password123' },
    undefined,
    ip(),
  );
  assert.equal(login.status, 200);
  assert.equal(login.body.user.id, r.body.user.id);
  assert.equal(await me(login.body.token), 200);
  const taken = await s.post('/api/auth/register', {
    username: 'dora',
    password: 'password123',
    displayName: 'x',
  });
  assert.deepEqual(
    [taken.status, taken.body.error.code, taken.body.error.field],
    [409, 'SB_CHAT_USERNAME_TAKEN', 'username'],
  );
});

test('bad input is a 400 naming the field; wrong credentials a 401; never a stack trace', async () => {
  const cases: [unknown, string][] = [
    [{ password: 'password123', displayName: 'x' }, 'username'],
    [{ username: 'ab', password: 'password123', displayName: 'x' }, 'username'],
    [{ username: 'valid_name', password: 'short', displayName: 'x' }, 'password'],
    [{ username: 'valid_name', password: 'password123', displayName: '  ' }, 'displayName'],
    [{ username: 'valid name!', password: 'password123', displayName: 'x' }, 'username'],
    [[1, 2], 'body'],
  ];
  for (const [body, field] of cases) {
    const r = await s.post('/api/auth/register', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'SB_CHAT_INVALID_INPUT');
    assert.equal(r.body.error.field, field);
  }
  const raw = await fetch(`${s.url}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{nope',
  });
  assert.equal(raw.status, 400);
  const text = await raw.text();
  assert.doesNotMatch(text, /at .*\.ts|stack/i);
  assert.equal(JSON.parse(text).error.field, 'body');
  const user = await s.register('erin');
  const wrong = await s.post(
    '/api/auth/login',
    { username: user.user.username, password: 'wrong-password' },
    undefined,
    ip(),
  );
  assert.deepEqual([wrong.status, wrong.body.error.code], [401, 'SB_CHAT_BAD_CREDENTIALS']);
  const nobody = await s.post(
    '/api/auth/login',
    { username: 'nobody-here', password: 'whatever1' },
    undefined,
    ip(),
  );
  assert.equal(nobody.status, 401);
  assert.equal((await s.post('/api/auth/refresh', {}, 'garbage')).status, 401);
  const big = await s.post('/api/auth/register', { username: 'x'.repeat(20_000) });
  assert.equal(big.status, 413);
  const missing = await fetch(`${s.url}/api/nothing`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'SB_CHAT_NOT_FOUND');
  const method = await fetch(`${s.url}/api/auth/login`);
  assert.equal(method.status, 405);
});

test('guest: a customer token without a password', async () => {
  const r = await s.post('/api/auth/guest', { displayName: 'Visitor' }, undefined, ip());
  assert.equal(r.status, 201);
  assert.equal(r.body.user.isGuest, true);
  assert.equal(r.body.user.displayName, 'Visitor');
  assert.equal(await me(r.body.token), 200);
  const login = await s.post(
    '/api/auth/login',
    { username: r.body.user.username, password: 'anything1' },
    undefined,
    ip(),
  );
  assert.equal(login.status, 401);
});

test('refresh gives a new token and the old one stops working', async () => {
  const user = await s.register('fay');
  const r = await s.post('/api/auth/refresh', undefined, user.token);
  assert.equal(r.status, 200);
  assert.notEqual(r.body.token, user.token);
  assert.equal(await me(r.body.token), 200);
  assert.equal(await me(user.token), 401);
});

test('logout: the token is rejected by the API and the hub, and its live connection ends', async () => {
  const user = await s.register('gus');
  const connection = await s.connect(user.token);
  let closed = false;
  connection.onclose(() => {
    closed = true;
  });
  const r = await s.post('/api/auth/logout', undefined, user.token);
  assert.equal(r.status, 204);
  assert.equal(await me(user.token), 401);
  await assert.rejects(s.connect(user.token), /401|Unauthorized/);
  await settle(200);
  assert.equal(closed, true);
  assert.equal((await s.post('/api/auth/logout', undefined, user.token)).status, 401);
});

test('password change: wrong current password is a 401; afterwards old tokens stop and the new password works', async () => {
  const user = await s.register('hal');
  const wrong = await s.post(
    '/api/auth/password',
    { currentPassword: 'nope-nope', newPassword: 'new-password-1' },
    user.token,
  );
  assert.deepEqual([wrong.status, wrong.body.error.field], [401, 'currentPassword']);
  const short = await s.post(
    '/api/auth/password',
    { currentPassword: 'password123', newPassword: 'x' },
    user.token,
  );
  assert.deepEqual([short.status, short.body.error.field], [400, 'newPassword']);
  const ok = await s.post(
    '/api/auth/password',
    { currentPassword: 'password123', newPassword: 'new-password-1' },
    user.token,
  );
  assert.equal(ok.status, 200);
  assert.equal(await me(user.token), 401);
  assert.equal(await me(ok.body.token), 200);
  const login = await s.post(
    '/api/auth/login',
    { username: user.user.username, password: 'new-password-1' },
    undefined,
    ip(),
  );
  assert.equal(login.status, 200);
});

test('login attempts and guest creation are rate limited per IP', async () => {
  const from = ip();
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push(
      (await s.post('/api/auth/login', { username: 'nobody', password: 'whatever1' }, undefined, from))
        .status,
    );
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 429, 429]);
  const limited = await s.post(
    '/api/auth/login',
    { username: 'nobody', password: 'whatever1' },
    undefined,
    from,
  );
  assert.equal(limited.body.error.code, 'SB_CHAT_RATE_LIMITED');
  assert.equal(
    (await s.post('/api/auth/login', { username: 'nobody', password: 'whatever1' }, undefined, ip())).status,
    401,
    'another IP has its own budget',
  );
  const guestFrom = ip();
  const guests: number[] = [];
  for (let i = 0; i < 4; i++)
    guests.push((await s.post('/api/auth/guest', { displayName: 'g' }, undefined, guestFrom)).status);
  assert.deepEqual(guests, [201, 201, 201, 429]);
});

test('roles: an admin gives the agent role through the admin API; others are refused', async () => {
  const [admin, user, target] = await Promise.all([s.register('root'), s.register('ivy'), s.register('jon')]);
  await s.app.accounts.setRole(admin.user.username, 'admin');
  const path = `/api/admin/users/${target.user.username}/role`;
  assert.equal((await s.post(path, { role: 'agent' }, user.token)).status, 403);
  const bad = await s.post(path, { role: 'king' }, admin.token);
  assert.deepEqual([bad.status, bad.body.error.field], [400, 'role']);
  const ok = await s.post(path, { role: 'agent' }, admin.token);
  assert.deepEqual([ok.status, ok.body.user.role], [200, 'agent']);
});

/** Records whether and with which error message the connection ended. */
function closed(connection: HubConnection): { done: boolean; error: string | undefined } {
  const state = { done: false, error: undefined as string | undefined };
  connection.onclose((error) => {
    state.done = true;
    state.error = error?.message;
  });
  return state;
}

test("logout ends only that token's connections (through the hub's connections, every node); password change ends every connection of the user", async () => {
  const user = await s.register('ivy');
  const other = await s.register('jon');
  const second = await s.post(
    '/api/auth/login',
    { username: user.user.username, password: 'password123' },
    undefined,
    ip(),
  );
  const third = await s.post(
    '/api/auth/login',
    { username: user.user.username, password: 'password123' },
    undefined,
    ip(),
  );
  const [a1, a2] = [await s.connect(user.token), await s.connect(user.token)];
  const b = await s.connect(second.body.token);
  const c = await s.connect(third.body.token);
  const o = await s.connect(other.token);
  const [sa1, sa2, sb, sc, so] = [a1, a2, b, c, o].map(closed);

  // Logout with the first token: both of its connections end, with the reason; the rest stay.
  assert.equal((await s.post('/api/auth/logout', undefined, user.token)).status, 204);
  await waitFor(() => sa1.done && sa2.done, 5_000, 'the logged-out connections to end');
  assert.match(sa1.error ?? '', /Signed out\./);
  await settle(200);
  assert.deepEqual([sb.done, sc.done, so.done], [false, false, false]);
  assert.equal(await b.invoke('listRooms').then(() => 'ok'), 'ok');

  // A password change (with the second token) ends every connection of the user, not the others'.
  const changed = await s.post(
    '/api/auth/password',
    { currentPassword: 'password123', newPassword: 'new-password-2' },
    second.body.token,
  );
  assert.equal(changed.status, 200);
  await waitFor(() => sb.done && sc.done, 5_000, "the user's connections to end");
  assert.match(sc.error ?? '', /password was changed/);
  await settle(200);
  assert.equal(so.done, false);
  // The new token connects.
  const fresh = await s.connect(changed.body.token);
  assert.equal(await fresh.invoke('listRooms').then(() => 'ok'), 'ok');
});
