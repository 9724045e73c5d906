// Issue #18, findings 4, 5, 7, 8 and 9 on the chat, one test each, through the official client and
// raw HTTP: blocks hold for invites, direct and group conversations and mentions; guests have no
// member powers; clientMessageId is unique per room; names refuse invisible characters; /metrics
// needs its token and the web app carries its security headers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { RawClient, UpgradeRefusedError } from '@switchboard/testkit';
import {
  type ChatTestServer,
  cid,
  record,
  settle,
  startChat,
  TEST_METRICS_TOKEN,
  type TestSession,
  type Wire,
} from './helpers.ts';

let s: ChatTestServer;
let webRoot: string;
before(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'sb-chat-web-root-'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>chat</title>');
  s = await startChat({ GUEST_RATE_LIMIT: '1000' }, { webRoot });
});
after(async () => {
  await s.close();
  rmSync(webRoot, { recursive: true, force: true });
});

async function users(...names: string[]): Promise<{ session: TestSession; c: HubConnection }[]> {
  const sessions = await Promise.all(names.map((n) => s.register(n)));
  return Promise.all(sessions.map(async (session) => ({ session, c: await s.connect(session.token) })));
}

test('finding 4: after B blocks A, A cannot invite B, open a direct or group conversation with B, nor notify B with a mention', async () => {
  const [a, b, c] = await users('amos', 'bella', 'cyril');
  const aId = a!.session.user.id;
  const bId = b!.session.user.id;
  // A public room the three share, from before the block.
  const shared = await c!.c.invoke('createRoom', { name: 'commons', isPrivate: false });
  await a!.c.invoke('joinRoom', shared.id);
  await b!.c.invoke('joinRoom', shared.id);
  await b!.c.invoke('blockUser', aId);
  const eb = record(b!.c);

  const privateRoom = await a!.c.invoke('createRoom', { name: 'trap', isPrivate: true });
  await assert.rejects(a!.c.invoke('inviteToRoom', privateRoom.id, bId), /^.*SB_CHAT_BLOCKED/);
  await assert.rejects(a!.c.invoke('openDirect', [bId]), /SB_CHAT_BLOCKED/);
  await assert.rejects(a!.c.invoke('openDirect', [bId, c!.session.user.id]), /SB_CHAT_BLOCKED/);
  // Inviting someone else still works.
  await a!.c.invoke('inviteToRoom', privateRoom.id, c!.session.user.id);

  const text = `hey @${b!.session.user.username} and @${c!.session.user.username}`;
  const sent = await a!.c.invoke('sendMessage', { roomId: shared.id, text, clientMessageId: cid() });
  assert.deepEqual(sent.mentions, [c!.session.user.id], 'the blocker is not mentioned, the other member is');
  await settle();
  const bRooms: Wire[] = await b!.c.invoke('listRooms');
  assert.equal(bRooms.find((r) => r.id === shared.id)?.mentionCount, 0);
  assert.equal(
    bRooms.some((r) => r.id === privateRoom.id),
    false,
    'B never joined the private room',
  );
  assert.equal(
    eb.roomUpdated!.some((e) => e.room.id === privateRoom.id),
    false,
    'B heard nothing of the private room',
  );
  const cRooms: Wire[] = await c!.c.invoke('listRooms');
  assert.equal(cRooms.find((r) => r.id === shared.id)?.mentionCount, 1);
});

test('finding 5: guests cannot be invited to rooms, nor invite, and have no member powers outside support', async () => {
  const [owner] = await users('olga');
  const guest = await s.guest('Visitor');
  const gc = await s.connect(guest.token);
  const room = await owner!.c.invoke('createRoom', { name: 'members', isPrivate: true });
  await assert.rejects(owner!.c.invoke('inviteToRoom', room.id, guest.user.id), /SB_CHAT_FORBIDDEN/);
  assert.equal(await s.app.storage.isMember(room.id, guest.user.id), false);
  await assert.rejects(gc.invoke('inviteToRoom', room.id, owner!.session.user.id), /SB_CHAT_FORBIDDEN/);
  // A membership stored by an older version gives a guest nothing.
  await s.app.storage.addMember(room.id, guest.user.id, new Date().toISOString());
  for (const call of [
    gc.invoke('getHistory', { roomId: room.id }),
    gc.invoke('sendMessage', { roomId: room.id, text: 'hi', clientMessageId: cid() }),
    gc.invoke('listRoomMembers', room.id),
    gc.invoke('inviteToRoom', room.id, owner!.session.user.id),
  ]) {
    await assert.rejects(call, /SB_CHAT_FORBIDDEN/);
  }
  // Support still works for the guest.
  const request = await gc.invoke('openSupportRequest', { subject: 'help', text: 'my order' });
  assert.ok(request.roomId);
  assert.equal((await gc.invoke('getHistory', { roomId: request.roomId })).length, 1);
});

test('finding 7: a clientMessageId reused in a second room posts there; a retry in one room stays one message', async () => {
  const [a, b] = await users('ada', 'ben');
  const one = await a!.c.invoke('createRoom', { name: 'one', isPrivate: false });
  const two = await a!.c.invoke('createRoom', { name: 'two', isPrivate: false });
  await b!.c.invoke('joinRoom', two.id);
  const eb = record(b!.c);
  const id = cid();
  const first = await a!.c.invoke('sendMessage', { roomId: one.id, text: 'first', clientMessageId: id });
  const second = await a!.c.invoke('sendMessage', { roomId: two.id, text: 'second', clientMessageId: id });
  assert.notEqual(second.id, first.id);
  assert.equal(second.roomId, two.id);
  assert.equal(second.text, 'second');
  const retry = await a!.c.invoke('sendMessage', { roomId: two.id, text: 'second', clientMessageId: id });
  assert.equal(retry.id, second.id);
  await settle();
  assert.deepEqual(
    eb.messageReceived!.map((m) => m.text),
    ['second'],
    'B, in room two only, got it once',
  );
  assert.deepEqual(
    (await a!.c.invoke('getHistory', { roomId: two.id })).map((m: Wire) => m.text),
    ['second'],
  );
});

test('finding 8: display and room names are NFC, and control, bidi-override and zero-width characters are refused', async () => {
  for (const bad of [
    'evil\u202Egnp.exe',
    'nul\u0000name',
    'zero\u200Bwidth',
    'iso\u2066late',
    'line\nbreak',
  ]) {
    const r = await s.post('/api/auth/register', {
      username: `n${Math.random().toString(36).slice(2, 10)}`,
      password: 'password123',
      displayName: bad,
    });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.body.error.code, 'SB_CHAT_INVALID_NAME');
    assert.equal(r.body.error.field, 'displayName');
    assert.match(r.body.error.message, /U\+[0-9A-F]{4}/);
    const g = await s.post('/api/auth/guest', { displayName: bad });
    assert.equal(g.body.error.code, 'SB_CHAT_INVALID_NAME');
  }
  // Decomposed e + combining acute is stored composed (NFC).
  const ok = await s.post('/api/auth/register', {
    username: `n${Math.random().toString(36).slice(2, 10)}`,
    password: 'password123',
    displayName: 'Rene\u0301',
  });
  assert.equal(ok.status, 201);
  assert.equal(ok.body.user.displayName, 'Ren\u00e9');
  const c = await s.connect(ok.body.token);
  await assert.rejects(
    c.invoke('createRoom', { name: 'admin\u200Dteam', isPrivate: false }),
    /SB_CHAT_INVALID_NAME: name: .*U\+200D/,
  );
  const room = await c.invoke('createRoom', { name: 'Cafe\u0301 \u{1F600}', isPrivate: false });
  assert.equal(room.name, 'Caf\u00e9 \u{1F600}');
});

test('finding 9: /metrics needs the METRICS_TOKEN bearer token; without a token configured it is off', async () => {
  assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
  const wrong = await fetch(`${s.url}/metrics`, {
    headers: { Authorization: 'Bearer not-the-token-at-all' },
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await wrong.json()).error.code, 'SB_CHAT_BAD_CREDENTIALS');
  const right = await fetch(`${s.url}/metrics`, {
    headers: { Authorization: `Bearer ${TEST_METRICS_TOKEN}` },
  });
  assert.equal(right.status, 200);
  assert.match(await right.text(), /signalr_server_active_connections/);

  const open = await startChat({ METRICS_TOKEN: '' });
  try {
    const r = await fetch(`${open.url}/metrics`, {
      headers: { Authorization: 'Bearer anything-at-all-1234' },
    });
    assert.equal(r.status, 401);
    assert.match((await r.json()).error.message, /METRICS_TOKEN/);
  } finally {
    await open.close();
  }
});

test('finding 9: the web app is served with a CSP without inline script, frame-ancestors, nosniff and Referrer-Policy', async () => {
  for (const path of ['/', '/index.html', '/rooms/some-view']) {
    const r = await fetch(`${s.url}${path}`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /object-src 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
  }
  const framed = await startChat({ FRAME_ANCESTORS: "'self' https://shop.example" }, { webRoot });
  try {
    const r = await fetch(`${framed.url}/`);
    assert.match(
      r.headers.get('content-security-policy') ?? '',
      /frame-ancestors 'self' https:\/\/shop\.example/,
    );
    assert.equal(r.headers.get('x-frame-options'), null);
  } finally {
    await framed.close();
  }
});

test('hub endpoints refuse other sites (negotiate and upgrade) unless ALLOWED_ORIGINS lists them', async () => {
  const session = await s.register('origin');
  const negotiate = (url: string, origin: string) =>
    fetch(`${url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${session.token}`, Origin: origin },
    });
  assert.equal((await negotiate(s.url, 'https://evil.example')).status, 403);
  const same = await negotiate(s.url, s.url);
  assert.equal(same.status, 200);
  const { connectionToken } = (await same.json()) as { connectionToken: string };
  await assert.rejects(
    RawClient.connect(`${s.url}/hubs/chat?access_token=${session.token}`, {
      id: connectionToken,
      headers: { Origin: 'https://evil.example' },
    }),
    (error: unknown) => error instanceof UpgradeRefusedError && error.status === 403,
  );
  const listed = await startChat({ ALLOWED_ORIGINS: 'https://app.example' });
  try {
    const other = await listed.register('listed');
    const r = await fetch(`${listed.url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${other.token}`, Origin: 'https://app.example' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
    const refused = await fetch(`${listed.url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${other.token}`, Origin: 'https://evil.example' },
    });
    assert.equal(refused.status, 403);
  } finally {
    await listed.close();
  }
});
