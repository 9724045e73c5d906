// The chat over the hub with the official client: delivery to every member and every device,
// history after being away, idempotent sends, edits, deletes, reactions, search, read state,
// typing and limits.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import type { SqliteStorage } from '@switchboard/chat-server';
import {
  type ChatTestServer,
  cid,
  metricsText,
  record,
  settle,
  startChat,
  type Wire,
  waitCount,
} from './helpers.ts';
import { metricSum } from './metrics-text.ts';

let s: ChatTestServer;
before(async () => {
  s = await startChat();
});
after(() => s.close());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function roomOfTwo(): Promise<{
  a: HubConnection;
  b: HubConnection;
  room: Wire;
  alice: Wire;
  bob: Wire;
}> {
  const [alice, bob] = await Promise.all([s.register('alice'), s.register('bob')]);
  const [a, b] = await Promise.all([s.connect(alice.token), s.connect(bob.token)]);
  // Public room names are unique: each test's room has its own.
  const room = await a.invoke('createRoom', { name: `general ${cid().slice(0, 8)}`, isPrivate: false });
  await b.invoke('joinRoom', room.id);
  return { a, b, room, alice, bob };
}

function send(c: HubConnection, roomId: string, text: string, clientMessageId = cid()): Promise<Wire> {
  return c.invoke('sendMessage', { roomId, text, clientMessageId });
}

test('two users chat: every message reaches both, in seq order 1, 2, 3 with ISO times', async () => {
  const { a, b, room, alice, bob } = await roomOfTwo();
  const ea = record(a);
  const eb = record(b);
  const m1 = await send(a, room.id, 'hi bob');
  const m2 = await send(b, room.id, 'hi alice');
  const m3 = await send(a, room.id, 'how are you?');
  await Promise.all([waitCount(ea.messageReceived!, 3), waitCount(eb.messageReceived!, 3)]);
  assert.deepEqual([m1.seq, m2.seq, m3.seq], [1, 2, 3]);
  assert.equal(m1.senderId, alice.user.id);
  assert.equal(m2.senderId, bob.user.id);
  assert.match(m1.sentAt, ISO);
  assert.deepEqual(
    eb.messageReceived!.map((m) => m.text),
    ['hi bob', 'hi alice', 'how are you?'],
  );
  assert.deepEqual(ea.messageReceived![0], m1);
  assert.deepEqual(Object.keys(m1).sort(), [
    'changeSeq',
    'clientMessageId',
    'id',
    'mentions',
    'reactions',
    'roomId',
    'senderId',
    'sentAt',
    'seq',
    'text',
  ]);
});

test('one user on two connections sees everything on both, own messages and room changes included', async () => {
  const [alice, bob] = await Promise.all([s.register('alice'), s.register('bob')]);
  const [a1, a2, b] = await Promise.all([
    s.connect(alice.token),
    s.connect(alice.token),
    s.connect(bob.token),
  ]);
  const e1 = record(a1);
  const e2 = record(a2);
  const room = await a1.invoke('createRoom', { name: 'two devices', isPrivate: true });
  await waitCount(e2.roomUpdated!, 1, 'roomUpdated on the other device');
  assert.equal(e2.roomUpdated![0].change, 'joined');
  await a1.invoke('inviteToRoom', room.id, bob.user.id);
  await send(a1, room.id, 'from device 1');
  await send(b, room.id, 'from bob');
  await Promise.all([waitCount(e1.messageReceived!, 2), waitCount(e2.messageReceived!, 2)]);
  assert.deepEqual(
    e1.messageReceived!.map((m) => m.text),
    ['from device 1', 'from bob'],
  );
  assert.deepEqual(
    e2.messageReceived!.map((m) => m.text),
    ['from device 1', 'from bob'],
  );
  await settle();
  assert.equal(e1.messageReceived!.length, 2, 'the sender got its own message once');
});

test('history: afterSeq gives exactly what was missed, in order; beforeSeq pages back; no cursor gives the newest', async () => {
  const { a, b, room, bob } = await roomOfTwo();
  for (let i = 1; i <= 3; i++) await send(a, room.id, `m${i}`);
  const lastSeen = 3;
  await b.stop();
  for (let i = 4; i <= 8; i++) await send(a, room.id, `m${i}`);
  const b2 = await s.connect(bob.token);
  const missed = await b2.invoke('getHistory', { roomId: room.id, afterSeq: lastSeen });
  assert.deepEqual(
    missed.map((m: Wire) => m.seq),
    [4, 5, 6, 7, 8],
  );
  assert.deepEqual(
    missed.map((m: Wire) => m.text),
    ['m4', 'm5', 'm6', 'm7', 'm8'],
  );
  const newest = await b2.invoke('getHistory', { roomId: room.id, limit: 3 });
  assert.deepEqual(
    newest.map((m: Wire) => m.seq),
    [6, 7, 8],
  );
  const older = await b2.invoke('getHistory', { roomId: room.id, beforeSeq: 6, limit: 3 });
  assert.deepEqual(
    older.map((m: Wire) => m.seq),
    [3, 4, 5],
  );
  const window = await b2.invoke('getHistory', { roomId: room.id, afterSeq: 2, limit: 2 });
  assert.deepEqual(
    window.map((m: Wire) => m.seq),
    [3, 4],
  );
  await assert.rejects(
    b2.invoke('getHistory', { roomId: room.id, limit: 'x' }),
    /SB_CHAT_INVALID_INPUT: limit/,
  );
});

test('idempotent sends: a retry, and two identical sends at once from two devices, store and deliver one message', async () => {
  const { a, b, room, alice } = await roomOfTwo();
  const eb = record(b);
  const id = cid();
  const first = await send(a, room.id, 'once', id);
  const retry = await send(a, room.id, 'once', id);
  assert.deepEqual(retry, first);
  const a2 = await s.connect(alice.token);
  const twin = cid();
  const [x, y] = await Promise.all([send(a, room.id, 'twin', twin), send(a2, room.id, 'twin', twin)]);
  assert.equal(x.id, y.id);
  assert.equal(x.seq, 2);
  await waitCount(eb.messageReceived!, 2);
  await settle(150);
  assert.deepEqual(
    eb.messageReceived!.map((m) => m.text),
    ['once', 'twin'],
    'each delivered once',
  );
  const history = await b.invoke('getHistory', { roomId: room.id });
  assert.deepEqual(
    history.map((m: Wire) => m.seq),
    [1, 2],
  );
  const next = await send(a, room.id, 'after');
  assert.equal(next.seq, 3, 'duplicates used no sequence number');
});

test('edit, reactions, search and delete (the text is gone from storage, history and search)', async () => {
  const { a, b, room, bob } = await roomOfTwo();
  const eb = record(b);
  const ea = record(a);
  const m = await send(a, room.id, 'the quick brown zebrafox');
  const edited = await a.invoke('editMessage', { messageId: m.id, text: 'the slow brown zebrafox' });
  assert.match(edited.editedAt, ISO);
  await waitCount(eb.messageEdited!, 1);
  assert.equal(eb.messageEdited![0].text, 'the slow brown zebrafox');
  assert.equal((await b.invoke('searchMessages', { query: 'slow' })).length, 1);
  assert.equal((await b.invoke('searchMessages', { query: 'quick' })).length, 0);
  assert.equal((await b.invoke('searchMessages', { query: 'zebrafox', roomId: room.id }))[0].id, m.id);

  const reactions = await b.invoke('react', { messageId: m.id, emoji: '👍' });
  assert.deepEqual(reactions, [{ emoji: '👍', count: 1, userIds: [bob.user.id] }]);
  await waitCount(ea.reactionsChanged!, 1);
  assert.deepEqual(ea.reactionsChanged![0], { roomId: room.id, messageId: m.id, reactions, changeSeq: 2 });
  assert.deepEqual(
    await b.invoke('react', { messageId: m.id, emoji: '👍' }),
    [],
    'a second react takes it away',
  );

  await a.invoke('deleteMessage', { messageId: m.id });
  await waitCount(eb.messageDeleted!, 1);
  assert.deepEqual(eb.messageDeleted![0], { roomId: room.id, messageId: m.id, seq: m.seq, changeSeq: 4 });
  const [tombstone] = await b.invoke('getHistory', { roomId: room.id });
  assert.equal(tombstone.deleted, true);
  assert.equal(tombstone.text, '');
  assert.equal((await b.invoke('searchMessages', { query: 'zebrafox' })).length, 0);
  const raw = (s.app.storage as SqliteStorage).rawAll(
    "SELECT (SELECT COUNT(*) FROM messages WHERE text LIKE '%zebrafox%') AS m, (SELECT COUNT(*) FROM messages_fts WHERE text LIKE '%zebrafox%') AS f",
  );
  assert.deepEqual(raw, [{ m: 0, f: 0 }]);
});

test("read state: markRead syncs across the user's connections, and unread and mention counts agree", async () => {
  const [alice, bob] = await Promise.all([s.register('alice'), s.register('bob')]);
  const [a1, a2, b] = await Promise.all([
    s.connect(alice.token),
    s.connect(alice.token),
    s.connect(bob.token),
  ]);
  const room = await b.invoke('createRoom', { name: 'reads', isPrivate: false });
  await a1.invoke('joinRoom', room.id);
  await send(a1, room.id, 'my own message does not count');
  await send(b, room.id, 'one');
  await send(b, room.id, `two @${alice.user.username}`);
  await send(b, room.id, 'three');
  const mine = async (c: HubConnection) => (await c.invoke('listRooms')).find((r: Wire) => r.id === room.id);
  for (const c of [a1, a2]) {
    const r = await mine(c);
    assert.equal(r.unreadCount, 3);
    assert.equal(r.mentionCount, 1);
    assert.equal(r.lastMessage.text, 'three');
  }
  const e2 = record(a2);
  const state = await a1.invoke('markRead', { roomId: room.id, seq: 3 });
  assert.deepEqual(state, { roomId: room.id, lastReadSeq: 3, unreadCount: 1, mentionCount: 0 });
  await waitCount(e2.readUpdated!, 1);
  assert.deepEqual(e2.readUpdated![0], state);
  assert.equal((await mine(a2)).unreadCount, 1);
  await a2.invoke('markRead', { roomId: room.id, seq: 1 });
  assert.equal((await mine(a1)).lastReadSeq, 3, 'a marker never moves back');
});

test('typing reaches the others in the room, not the typer; beyond its rate it is dropped and counted', async () => {
  const { a, b, room, alice } = await roomOfTwo();
  const ea = record(a);
  const eb = record(b);
  await a.send('typing', room.id);
  await waitCount(eb.typing!, 1);
  assert.deepEqual(eb.typing![0], { roomId: room.id, userId: alice.user.id });
  for (let i = 0; i < 20; i++) await a.send('typing', room.id);
  await a.invoke('listRooms');
  await settle(100);
  assert.ok(eb.typing!.length < 10, `got ${eb.typing!.length} typing notices`);
  assert.equal(ea.typing!.length, 0);
  const metrics = await metricsText(s.url);
  assert.ok(metricSum(metrics, 'chat_typing_dropped_total')! >= 1);
});

test('a user may message themself, and the same set of people gives the same direct room', async () => {
  const [alice, bob] = await Promise.all([s.register('alice'), s.register('bob')]);
  const [a, b] = await Promise.all([s.connect(alice.token), s.connect(bob.token)]);
  const self = await a.invoke('openDirect', [alice.user.id]);
  assert.equal(self.isDirect, true);
  const note = await send(a, self.id, 'note to self');
  assert.equal(note.seq, 1);
  const ab = await a.invoke('openDirect', [bob.user.id]);
  const ba = await b.invoke('openDirect', [alice.user.id]);
  assert.equal(ab.id, ba.id);
  assert.notEqual(ab.id, self.id);
});

test('limits: message length, messages per second, rooms per user', async () => {
  const limited = await startChat({
    MAX_MESSAGE_LENGTH: '10',
    MESSAGE_RATE_LIMIT: '3',
    MAX_ROOMS_PER_USER: '1',
  });
  try {
    const alice = await limited.register('alice');
    const a = await limited.connect(alice.token);
    const room = await a.invoke('createRoom', { name: 'only one', isPrivate: false });
    await assert.rejects(a.invoke('createRoom', { name: 'two', isPrivate: false }), /SB_CHAT_ROOM_LIMIT/);
    await assert.rejects(send(a, room.id, '12345678901'), /SB_CHAT_MESSAGE_TOO_LONG/);
    const started = Date.now();
    const results = await Promise.allSettled([1, 2, 3, 4, 5, 6, 7, 8].map((i) => send(a, room.id, `m${i}`)));
    const seconds = (Date.now() - started) / 1000;
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    // The burst of 3, plus what flowed in while the sends ran (nothing on a quick machine).
    assert.ok(accepted >= 3 && accepted <= 3 + Math.floor(3 * seconds), `${accepted} in ${seconds} s`);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.match(String(refused.reason), /SB_CHAT_RATE_LIMITED/);
  } finally {
    await limited.close();
  }
});

test("room names: a clash with a public room or one of the owner's is refused clearly; others are fine", async () => {
  const [alice, bob] = await Promise.all([s.register('alice'), s.register('bob')]);
  const [a, b] = await Promise.all([s.connect(alice.token), s.connect(bob.token)]);
  const name = `Town Hall ${cid().slice(0, 8)}`;
  await a.invoke('createRoom', { name, isPrivate: false });
  await assert.rejects(
    b.invoke('createRoom', { name: name.toUpperCase(), isPrivate: false }),
    /SB_CHAT_ROOM_NAME_TAKEN: A public room named ".*" already exists/,
  );
  await assert.rejects(
    a.invoke('createRoom', { name: name.toLowerCase(), isPrivate: true }),
    /SB_CHAT_ROOM_NAME_TAKEN: You already have a room named/,
  );
  const mine = await b.invoke('createRoom', { name: name.toLowerCase(), isPrivate: true });
  assert.equal(mine.name, name.toLowerCase());
});
