// The example host app beside a real chat server (SQLite in a temporary directory): the chat
// discovers the host app's key set from AUTH_ISSUER, accepts its RS256 tokens on the HTTP API and
// on the hub (official client), the host app's backend makes a room through the server API, and
// the chat's webhooks reach the host app signed; a bad signature is refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { connectClient } from '@switchboard/testkit';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { Webhook } from 'standardwebhooks';
import { type RunningHostApp, SESSION_COOKIE } from '../src/app.ts';
import { PASSWORD, type Pair, startPair } from './pair.ts';

let pair: Pair;
let chatUrl: string;
let host: RunningHostApp;
let hostUrl: string;
let apiKey: string;
let secret: string;
let hostLog: string[];
const connections: HubConnection[] = [];

before(async () => {
  pair = await startPair();
  ({ chatUrl, host, hostUrl, apiKey, secret, hostLog } = pair);
});

after(async () => {
  await Promise.all(connections.map((c) => c.stop().catch(() => undefined)));
  await pair?.close();
});

/** Signs in to the host app; answers the session cookie (`name=value`). */
async function signIn(username: string, password = PASSWORD): Promise<string> {
  const response = await fetch(`${hostUrl}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: hostUrl },
    body: new URLSearchParams({ username, password, next: '/projects' }),
  });
  assert.equal(response.status, 303, `sign-in of ${username}`);
  assert.equal(response.headers.get('location'), '/projects');
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  assert.ok(cookie, 'a session cookie');
  return cookie.split(';')[0]!;
}

async function get(path: string, cookie?: string): Promise<Response> {
  return fetch(`${hostUrl}${path}`, { redirect: 'manual', headers: cookie ? { Cookie: cookie } : {} });
}

async function chatToken(cookie: string): Promise<string> {
  const response = await get('/chat-token', cookie);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  return response.text();
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('the host app publishes its key set and OpenID configuration (issuer = its URL)', async () => {
  const discovery = (await (await get('/.well-known/openid-configuration')).json()) as Record<
    string,
    unknown
  >;
  assert.equal(discovery.issuer, hostUrl);
  assert.equal(discovery.jwks_uri, `${hostUrl}/.well-known/jwks.json`);
  const jwks = (await (await get('/.well-known/jwks.json')).json()) as { keys: Record<string, unknown>[] };
  assert.equal(jwks.keys.length, 1);
  const [key] = jwks.keys;
  assert.equal(key!.kty, 'RSA');
  assert.equal(key!.alg, 'RS256');
  assert.equal(key!.use, 'sig');
  assert.equal(typeof key!.kid, 'string');
  for (const secretPart of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
    assert.ok(!(secretPart in key!), `no ${secretPart}`);
});

test('sign-in: a wrong password is refused, the session cookie is httpOnly and SameSite=Lax, cross-site posts refused', async () => {
  const wrong = await fetch(`${hostUrl}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'alice', password: 'not-it' }),
  });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.headers.getSetCookie(), []);
  const unknown = await fetch(`${hostUrl}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'mallory', password: PASSWORD }),
  });
  assert.equal(unknown.status, 401);

  const crossSite = await fetch(`${hostUrl}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'http://evil.example' },
    body: new URLSearchParams({ username: 'alice', password: PASSWORD }),
  });
  assert.equal(crossSite.status, 403);

  const response = await fetch(`${hostUrl}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: hostUrl },
    body: new URLSearchParams({ username: 'alice', password: PASSWORD, next: '//evil.example/' }),
  });
  assert.equal(response.status, 303);
  assert.equal(response.headers.get('location'), '/', 'no redirect to another site');
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  assert.match(setCookie, /; HttpOnly/i);
  assert.match(setCookie, /; SameSite=Lax/i);
  assert.match(decodeURIComponent(setCookie.split(';')[0]!), /^acme\.sid=s:[^.]+\.[A-Za-z0-9+/]+/, 'signed');
  const forged = `${SESSION_COOKIE}=${encodeURIComponent('s:forged.c2lnbmF0dXJl')}`;
  assert.equal((await get('/chat-token', forged)).status, 401, 'a forged cookie is no session');
});

test('/chat-token: 401 signed out; an RS256 token with sub, name, role and a 10 minute life signed in', async () => {
  assert.equal((await get('/chat-token')).status, 401);
  const token = await chatToken(await signIn('alice'));
  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, host.tokens.publicJwk.kid);
  const claims = decodeJwt(token);
  assert.equal(claims.iss, hostUrl);
  assert.equal(claims.sub, 'u-alice');
  assert.equal(claims.name, 'Alice Moreau');
  assert.equal(claims.role, 'user');
  assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 600);
});

test('the chat accepts the host tokens: /api/me and the hub (official client) as the host user with name and role', async () => {
  const aliceToken = await chatToken(await signIn('alice'));
  const me = await fetch(`${chatUrl}/api/me`, { headers: { Authorization: `Bearer ${aliceToken}` } });
  assert.equal(me.status, 200);
  const alice = ((await me.json()) as { user: { id: string; displayName: string; role: string } }).user;
  assert.equal(alice.displayName, 'Alice Moreau');
  assert.equal(alice.role, 'user');
  assert.match(alice.id, /^h_[0-9a-f]{32}$/);

  const samToken = await chatToken(await signIn('sam'));
  const sam = (await (
    await fetch(`${chatUrl}/api/me`, { headers: { Authorization: `Bearer ${samToken}` } })
  ).json()) as { user: { displayName: string; role: string } };
  assert.equal(sam.user.displayName, 'Sam from Support');
  assert.equal(sam.user.role, 'agent');

  const connection = await connectClient(`${chatUrl}/hubs/chat`, { accessTokenFactory: () => samToken });
  connections.push(connection);
  const rooms = await connection.invoke('listRooms');
  assert.ok(Array.isArray(rooms));
  await connection.stop();

  const forged = `${aliceToken.split('.').slice(0, 2).join('.')}.${randomBytes(256).toString('base64url')}`;
  const refused = await fetch(`${chatUrl}/api/me`, { headers: { Authorization: `Bearer ${forged}` } });
  assert.equal(refused.status, 401, 'a token the host app did not sign is refused');
});

test('the embed pages carry the widget tag in both modes (guest support without a token URL)', async () => {
  const guest = await (await get('/support')).text();
  assert.ok(guest.includes(`<script src="${chatUrl}/widget.js" data-mode="support" async></script>`), guest);
  const cookie = await signIn('alice');
  const support = await (await get('/support', cookie)).text();
  assert.ok(
    support.includes(
      `<script src="${chatUrl}/widget.js" data-mode="support" data-token-url="/chat-token" async>`,
    ),
  );
  const inbox = await (await get('/inbox', cookie)).text();
  assert.ok(inbox.includes('<div id="chat"'));
  assert.ok(
    inbox.includes(
      `<script src="${chatUrl}/widget.js" data-mode="inbox" data-token-url="/chat-token" data-target="#chat" async>`,
    ),
  );
  const signedOut = await get('/inbox');
  assert.equal(signedOut.status, 303);
  assert.equal(signedOut.headers.get('location'), '/signin?next=%2Finbox');
});

test('the backend makes a project room through the server API, and the chat webhooks reach it signed', async () => {
  const alice = await signIn('alice');
  const open = async (cookie: string, project: string) =>
    fetch(`${hostUrl}/projects/${project}/chat`, {
      method: 'POST',
      redirect: 'manual',
      headers: { Accept: 'application/json', Cookie: cookie, Origin: hostUrl },
    });
  const [first, second] = await Promise.all([open(alice, 'apollo'), open(alice, 'apollo')]);
  assert.equal(first.status, 201);
  assert.equal(second.status, 201);
  const { roomId } = (await first.json()) as { roomId: string };
  assert.equal(((await second.json()) as { roomId: string }).roomId, roomId, 'one room per project');

  const bob = await signIn('bob');
  assert.equal((await open(bob, 'gemini')).status, 404, 'bob is not on gemini');

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${chatUrl}/api/v1${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
    });
  const room = (await (await api(`/rooms/${roomId}`)).json()) as {
    room: { name: string; isPrivate: boolean };
    members: { id: string; displayName: string }[];
  };
  assert.equal(room.room.name, 'Apollo launch');
  assert.equal(room.room.isPrivate, true);
  assert.deepEqual(room.members.map((m) => m.id).sort(), ['u-alice', 'u-bob', 'u-sam']);
  assert.equal(room.members.find((m) => m.id === 'u-bob')?.displayName, 'Bob Okafor');

  // Bob sees the room on the hub, as himself.
  const bobHub = await connectClient(`${chatUrl}/hubs/chat`, { accessTokenFactory: () => chatToken(bob) });
  connections.push(bobHub);
  const bobRooms = (await bobHub.invoke('listRooms')) as { id: string }[];
  assert.ok(
    bobRooms.some((r) => r.id === roomId),
    'the room is among bob’s rooms',
  );

  const page = await (await get('/projects/apollo', alice)).text();
  assert.ok(page.includes(`data-room="${roomId}"`), 'the project page embeds that one room');

  const text = `hsta ship it ${randomBytes(4).toString('hex')}`;
  const posted = await api(`/rooms/${roomId}/messages`, {
    method: 'POST',
    body: JSON.stringify({ text, userId: 'u-bob' }),
  });
  assert.equal(posted.status, 201);
  const event = await until('message.created at the host app', () =>
    host
      .webhooks!.latest(200)
      .find(
        (e) =>
          e.type === 'message.created' && (e.data.message as { text?: string } | undefined)?.text === text,
      ),
  );
  assert.equal(event.data.roomId, roomId);
  assert.match(event.webhookId, /^msg_/);
  assert.ok(
    host.webhooks!.latest(200).some((e) => e.type === 'room.member_added' && e.data.roomId === roomId),
    'the room creation was announced too',
  );
  assert.ok(
    hostLog.some((line) => line.startsWith('webhook message.created') && line.includes('project=apollo')),
  );

  const ada = await signIn('ada');
  const events = await (await get('/events', ada)).text();
  assert.ok(events.includes('message.created'));
  assert.ok(events.includes(text));
  assert.equal((await get('/events', alice)).status, 403, 'users do not see the webhook log');
});

test('the webhook receiver refuses a bad signature, a tampered body and missing headers; a retry is recorded once', async () => {
  const before = host.webhooks!.latest(200).length;
  const body = JSON.stringify({
    type: 'message.created',
    timestamp: new Date().toISOString(),
    data: { roomId: 'x', seq: 1 },
  });
  const id = `msg_hsta${randomBytes(8).toString('hex')}`;
  const now = new Date();
  const signed = (key: string, payload: string) => ({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(key).sign(id, now, payload),
  });
  const post = (headers: Record<string, string>, payload = body) =>
    fetch(`${hostUrl}/webhooks`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: payload,
    });

  const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const wrongKey = await post(signed(otherSecret, body));
  assert.equal(wrongKey.status, 401);
  assert.equal(((await wrongKey.json()) as { error: { code: string } }).error.code, 'INVALID_SIGNATURE');
  assert.equal(
    (await post(signed(secret, body), body.replace('"seq":1', '"seq":2'))).status,
    401,
    'tampered',
  );
  assert.equal((await post({})).status, 401, 'no headers');
  assert.equal(host.webhooks!.latest(200).length, before, 'nothing recorded');

  assert.equal((await post(signed(secret, body))).status, 204);
  assert.equal((await post(signed(secret, body))).status, 204, 'a retry is acknowledged');
  assert.equal(host.webhooks!.latest(200).filter((e) => e.webhookId === id).length, 1, 'and recorded once');
});

test('sign-out ends the session: no more chat tokens with the old cookie', async () => {
  const cookie = await signIn('bob');
  await chatToken(cookie);
  const out = await fetch(`${hostUrl}/signout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { Cookie: cookie, Origin: hostUrl },
  });
  assert.equal(out.status, 303);
  assert.equal((await get('/chat-token', cookie)).status, 401);
});
