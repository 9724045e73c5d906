// What a view needs to hold a room's timeline without a hole, over the hub with the official
// client: messages by seq range with where the room stands (`getMessages`), and the messages
// edited, deleted or reacted to after a change cursor (`getChanges`), whose numbers the live events
// carry too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { type ChatTestServer, cid, record, startChat, type Wire, waitCount } from './helpers.ts';

let s: ChatTestServer;
before(async () => {
  s = await startChat({ MESSAGE_RATE_LIMIT: '1000' });
});
after(() => s.close());

function send(c: HubConnection, roomId: string, text: string): Promise<Wire> {
  return c.invoke('sendMessage', { roomId, text, clientMessageId: cid() });
}

test('getMessages: a seq range, the newest page, a page up to a seq; with lastSeq and the cursor', async () => {
  const alice = await s.register('tlalice');
  const a = await s.connect(alice.token);
  const room = await a.invoke('createRoom', { name: 'ranges', isPrivate: false });
  for (let i = 1; i <= 12; i++) await send(a, room.id, `m${i}`);
  const seqs = (page: Wire) => page.messages.map((m: Wire) => m.seq);

  const range = await a.invoke('getMessages', { roomId: room.id, fromSeq: 4, toSeq: 7 });
  assert.deepEqual(seqs(range), [4, 5, 6, 7]);
  assert.equal(range.lastSeq, 12);
  assert.equal(range.cursor, 0);
  assert.equal(range.roomId, room.id);
  assert.deepEqual(seqs(await a.invoke('getMessages', { roomId: room.id, fromSeq: 10 })), [10, 11, 12]);
  assert.deepEqual(seqs(await a.invoke('getMessages', { roomId: room.id, limit: 3 })), [10, 11, 12]);
  assert.deepEqual(seqs(await a.invoke('getMessages', { roomId: room.id, toSeq: 5, limit: 2 })), [4, 5]);
  assert.deepEqual(seqs(await a.invoke('getMessages', { roomId: room.id, fromSeq: 13 })), []);
  const linked = (await a.invoke('getMessages', { roomId: room.id, fromSeq: 9, toSeq: 9 })).messages[0];
  const fromLink = await a.invoke('getMessages', { roomId: room.id, messageId: linked.id, limit: 2 });
  assert.deepEqual(seqs(fromLink), [9, 10]);
  await assert.rejects(
    a.invoke('getMessages', { roomId: room.id, messageId: 'no-such-message' }),
    /SB_CHAT_NOT_FOUND/,
  );
  await assert.rejects(a.invoke('getMessages', { roomId: room.id, limit: 0 }), /SB_CHAT_INVALID/);

  const outsider = await s.connect((await s.register('tlmallory')).token);
  await assert.rejects(outsider.invoke('getMessages', { roomId: room.id }), /SB_CHAT_FORBIDDEN/);
  await assert.rejects(outsider.invoke('getChanges', { roomId: room.id, since: 0 }), /SB_CHAT_FORBIDDEN/);
});

test('getChanges: what was edited, deleted and reacted to while away, by cursor; live events carry the numbers', async () => {
  const [alice, bob] = await Promise.all([s.register('tlann'), s.register('tlbob')]);
  const [a, b] = await Promise.all([s.connect(alice.token), s.connect(bob.token)]);
  const room = await a.invoke('createRoom', { name: 'changes', isPrivate: false });
  await b.invoke('joinRoom', room.id);
  const m1 = await send(a, room.id, 'first');
  const m2 = await send(a, room.id, 'second');
  const m3 = await send(a, room.id, 'third');
  const seen = await b.invoke('getMessages', { roomId: room.id });
  assert.equal(seen.cursor, 0);

  // Bob is away while Alice edits, reacts and deletes.
  await b.stop();
  const ea = record(a);
  await a.invoke('editMessage', { messageId: m1.id, text: 'first, edited' });
  await a.invoke('react', { messageId: m2.id, emoji: '👍' });
  await a.invoke('deleteMessage', { messageId: m3.id });
  await Promise.all([
    waitCount(ea.messageEdited!, 1),
    waitCount(ea.reactionsChanged!, 1),
    waitCount(ea.messageDeleted!, 1),
  ]);
  assert.equal(ea.messageEdited![0].changeSeq, 1);
  assert.equal(ea.reactionsChanged![0].changeSeq, 2);
  assert.deepEqual(ea.messageDeleted![0], { roomId: room.id, messageId: m3.id, seq: 3, changeSeq: 3 });

  const back = await s.connect(bob.token);
  const changes = await back.invoke('getChanges', { roomId: room.id, since: seen.cursor });
  assert.equal(changes.cursor, 3);
  assert.equal(changes.more, false);
  assert.equal(changes.reload, false);
  assert.deepEqual(
    changes.messages.map((m: Wire) => [m.seq, m.text, m.reactions.length, Boolean(m.deleted), m.changeSeq]),
    [
      [1, 'first, edited', 0, false, 1],
      [2, 'second', 1, false, 2],
      [3, '', 0, true, 3],
    ],
  );
  const none = await back.invoke('getChanges', { roomId: room.id, since: 3 });
  assert.deepEqual([none.cursor, none.messages, none.reload], [3, [], false]);
  const position = await back.invoke('getMessages', { roomId: room.id, fromSeq: 4 });
  assert.deepEqual([position.lastSeq, position.cursor], [3, 3]);
  // A cursor the room never had (another database, a room created anew) asks for a reload.
  assert.equal((await back.invoke('getChanges', { roomId: room.id, since: 50 })).reload, true);
  await assert.rejects(back.invoke('getChanges', { roomId: room.id }), /SB_CHAT_INVALID/);
});
