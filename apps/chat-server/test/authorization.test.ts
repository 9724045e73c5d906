// Each authorization rule of the chat hub, one test each: refusals are HubExceptions with a stable
// SB_CHAT_* code and never carry the content the caller may not see.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import {
  type ChatTestServer,
  cid,
  record,
  settle,
  startChat,
  type TestSession,
  type Wire,
} from './helpers.ts';

let s: ChatTestServer;
before(async () => {
  s = await startChat();
});
after(() => s.close());

const FORBIDDEN = /SB_CHAT_FORBIDDEN/;

async function users(...names: string[]): Promise<{ session: TestSession; c: HubConnection }[]> {
  const sessions = await Promise.all(names.map((n) => s.register(n)));
  return Promise.all(sessions.map(async (session) => ({ session, c: await s.connect(session.token) })));
}

function send(c: HubConnection, roomId: string, text: string): Promise<Wire> {
  return c.invoke('sendMessage', { roomId, text, clientMessageId: cid() });
}

test('only members read, post, see members of a room or receive its messages; the refusal leaks nothing', async () => {
  const [alice, carol] = await users('alice', 'carol');
  const room = await alice!.c.invoke('createRoom', { name: 'members only', isPrivate: true });
  await send(alice!.c, room.id, 'secret plans');
  const ec = record(carol!.c);
  for (const call of [
    carol!.c.invoke('getHistory', { roomId: room.id }),
    carol!.c.invoke('listRoomMembers', room.id),
    send(carol!.c, room.id, 'let me in'),
    carol!.c.invoke('markRead', { roomId: room.id, seq: 1 }),
    carol!.c.invoke('searchMessages', { query: 'secret', roomId: room.id }),
  ]) {
    await assert.rejects(call, (error: Error) => {
      assert.match(error.message, FORBIDDEN);
      assert.doesNotMatch(error.message, /secret plans|members only/);
      return true;
    });
  }
  assert.deepEqual(await carol!.c.invoke('searchMessages', { query: 'secret' }), []);
  await send(alice!.c, room.id, 'more secrets');
  await settle();
  assert.equal(ec.messageReceived!.length, 0);
});

test('only the author edits a message', async () => {
  const [alice, bob] = await users('alice', 'bob');
  const room = await alice!.c.invoke('createRoom', { name: 'edits', isPrivate: false });
  await bob!.c.invoke('joinRoom', room.id);
  const m = await send(alice!.c, room.id, 'original');
  await assert.rejects(bob!.c.invoke('editMessage', { messageId: m.id, text: 'forged' }), FORBIDDEN);
  const [latest] = await bob!.c.invoke('getHistory', { roomId: room.id, limit: 1 });
  assert.equal(latest.text, 'original');
});

test("the author, the room's owner or an admin deletes a message; other members do not", async () => {
  const [owner, bob, carol] = await users('owner', 'bob', 'carol');
  const adminSession = await s.register('admin');
  await s.app.accounts.setRole(adminSession.user.username, 'admin');
  const room = await owner!.c.invoke('createRoom', { name: 'deletes', isPrivate: false });
  await bob!.c.invoke('joinRoom', room.id);
  await carol!.c.invoke('joinRoom', room.id);
  const admin = await s.connect(adminSession.token);
  await admin.invoke('joinRoom', room.id);
  const byBob = await send(bob!.c, room.id, 'bob 1');
  const byBob2 = await send(bob!.c, room.id, 'bob 2');
  const byCarol = await send(carol!.c, room.id, 'carol');
  await assert.rejects(carol!.c.invoke('deleteMessage', { messageId: byBob.id }), FORBIDDEN);
  assert.equal((await bob!.c.invoke('deleteMessage', { messageId: byBob.id })).deleted, true, 'author');
  assert.equal((await owner!.c.invoke('deleteMessage', { messageId: byBob2.id })).deleted, true, 'owner');
  assert.equal((await admin.invoke('deleteMessage', { messageId: byCarol.id })).deleted, true, 'admin');
  // Whoever deleted it, the text is gone from history and from the storage's tables.
  const history = await carol!.c.invoke('getHistory', { roomId: room.id });
  assert.deepEqual(
    history.map((m: Wire) => [m.seq, m.text, m.deleted]),
    [
      [1, '', true],
      [2, '', true],
      [3, '', true],
    ],
  );
  const storage = s.app.storage as unknown as { rawAll(sql: string): Record<string, unknown>[] };
  assert.deepEqual(
    storage.rawAll(
      "SELECT COUNT(*) AS n FROM messages WHERE text IN ('bob 1', 'bob 2', 'carol') OR text LIKE 'bob %'",
    ),
    [{ n: 0 }],
  );
});

test('private rooms: no joining without an invitation, and only members invite', async () => {
  const [alice, bob, carol] = await users('alice', 'bob', 'carol');
  const room = await alice!.c.invoke('createRoom', { name: 'private', isPrivate: true });
  await assert.rejects(bob!.c.invoke('joinRoom', room.id), FORBIDDEN);
  await assert.rejects(carol!.c.invoke('inviteToRoom', room.id, bob!.session.user.id), FORBIDDEN);
  const eb = record(bob!.c);
  await alice!.c.invoke('inviteToRoom', room.id, bob!.session.user.id);
  await send(alice!.c, room.id, 'welcome bob');
  await settle();
  assert.equal(eb.messageReceived![0]?.text, 'welcome bob', 'the invited user is in the group at once');
  assert.ok(!(await bob!.c.invoke('listPublicRooms')).some((r: Wire) => r.id === room.id));
});

test("only the room's owner or an admin removes members, who then stop receiving the room", async () => {
  const [alice, bob, carol] = await users('alice', 'bob', 'carol');
  const room = await alice!.c.invoke('createRoom', { name: 'removals', isPrivate: false });
  await bob!.c.invoke('joinRoom', room.id);
  await carol!.c.invoke('joinRoom', room.id);
  await assert.rejects(bob!.c.invoke('removeFromRoom', room.id, carol!.session.user.id), FORBIDDEN);
  const ec = record(carol!.c);
  await alice!.c.invoke('removeFromRoom', room.id, carol!.session.user.id);
  await send(alice!.c, room.id, 'after carol left');
  await settle();
  assert.deepEqual(
    ec.roomUpdated!.map((e) => e.change),
    ['removed'],
  );
  assert.equal(ec.messageReceived!.length, 0);
  await assert.rejects(carol!.c.invoke('getHistory', { roomId: room.id }), FORBIDDEN);
});

test('presence only for users who share a room with the caller', async () => {
  const [alice, bob, stranger] = await users('alice', 'bob', 'stranger');
  const room = await alice!.c.invoke('createRoom', { name: 'presence', isPrivate: false });
  await bob!.c.invoke('joinRoom', room.id);
  const [p] = await alice!.c.invoke('getPresence', [bob!.session.user.id]);
  assert.deepEqual(p, { userId: bob!.session.user.id, online: true, lastSeenAt: null, status: 'online' });
  await assert.rejects(alice!.c.invoke('getPresence', [stranger!.session.user.id]), FORBIDDEN);
});

test("presence for agents: their customers only (a request's customer once claimed, not the queue's)", async () => {
  const [g1, g2] = await Promise.all([s.guest('mine'), s.guest('not mine')]);
  const [c1, c2] = await Promise.all([s.connect(g1.token), s.connect(g2.token)]);
  const agentSession = await s.agent('presenceagent');
  const agent = await s.connect(agentSession.token);
  const mine = await c1.invoke('openSupportRequest', { subject: 'one', text: 'help' });
  await c2.invoke('openSupportRequest', { subject: 'two', text: 'help too' });
  await assert.rejects(agent.invoke('getPresence', [g1.user.id]), FORBIDDEN, 'not before claiming');
  await agent.invoke('claimSupportRequest', mine.id);
  const [p] = await agent.invoke('getPresence', [g1.user.id]);
  assert.deepEqual([p.userId, p.online], [g1.user.id, true]);
  await assert.rejects(
    agent.invoke('getPresence', [g2.user.id]),
    FORBIDDEN,
    'a queued customer is not theirs',
  );
  // The customer sees their agent.
  assert.equal((await c1.invoke('getPresence', [agentSession.user.id]))[0].online, true);
  await assert.rejects(c2.invoke('getPresence', [agentSession.user.id]), FORBIDDEN);
});

test('a customer sees only their own support requests', async () => {
  const [g1, g2] = await Promise.all([s.guest('first customer'), s.guest('second customer')]);
  const [c1, c2] = await Promise.all([s.connect(g1.token), s.connect(g2.token)]);
  const request = await c1.invoke('openSupportRequest', {
    subject: 'refund',
    text: 'my card number is 1234',
  });
  await assert.rejects(c2.invoke('listSupportQueue'), FORBIDDEN);
  await assert.rejects(c2.invoke('getHistory', { roomId: request.roomId }), FORBIDDEN);
  await assert.rejects(c2.invoke('claimSupportRequest', request.id), FORBIDDEN);
  assert.equal((await c2.invoke('listRooms')).length, 0);
});

test('a blocked user cannot open a direct conversation with the blocker, nor write in one', async () => {
  const [alice, bob] = await users('alice', 'bob');
  const direct = await bob!.c.invoke('openDirect', [alice!.session.user.id]);
  await alice!.c.invoke('blockUser', bob!.session.user.id);
  await assert.rejects(bob!.c.invoke('openDirect', [alice!.session.user.id]), /SB_CHAT_BLOCKED/);
  await assert.rejects(send(bob!.c, direct.id, 'hello?'), /SB_CHAT_BLOCKED/);
  await alice!.c.invoke('unblockUser', bob!.session.user.id);
  assert.equal((await bob!.c.invoke('openDirect', [alice!.session.user.id])).id, direct.id);
});

test('the hub refuses connections without a valid token', async () => {
  await assert.rejects(s.connect('not-a-token'), /401|Unauthorized/);
});
