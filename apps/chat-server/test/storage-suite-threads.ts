/**
 * The storage contract's threads and reaction limit (src/storage/storage.ts), run by
 * `storageSuite` against every implementation: replies carry their parent, the parent counts them
 * (a logged change), deleting a parent keeps its thread, thread read markers, and the limit of
 * different emoji per message held under concurrent reactions from several instances.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ChatStorage } from '@switchboard/chat-server';
import type { StorageFixture } from './storage-suite.ts';

type Run = (title: string, body: (f: StorageFixture, storage: ChatStorage) => Promise<void>) => void;

const now = () => new Date().toISOString();

async function user(storage: ChatStorage) {
  const name = `u${randomUUID().slice(0, 8)}`;
  return storage.createUser({
    id: randomUUID(),
    username: name,
    displayName: name,
    passwordHash: 'scrypt$x',
    role: 'user',
    isGuest: false,
    createdAt: now(),
  });
}

async function room(storage: ChatStorage, members: string[]) {
  const id = randomUUID();
  const at = now();
  return storage.createRoom(
    { id, name: `r-${id.slice(0, 8)}`, isPrivate: false, kind: 'room', ownerId: members[0]!, createdAt: at },
    members,
  );
}

function message(roomId: string, senderId: string, text: string, parentId?: string) {
  return {
    id: randomUUID(),
    roomId,
    senderId,
    text,
    mentions: [],
    clientMessageId: randomUUID(),
    sentAt: now(),
    ...(parentId ? { parentId } : {}),
  };
}

/** Registers the thread and reaction-limit tests through the suite's `run`. */
export function threadTests(run: Run): void {
  run(
    'replies: stored with their parent, counted on it (a logged change), read back by thread',
    async (_f, s) => {
      const [a, b] = [await user(s), await user(s)];
      const r = await room(s, [a.id, b.id]);
      const parent = (await s.insertMessage(message(r.id, a.id, 'question'))).message;
      assert.equal(parent.parentId, undefined);
      assert.equal(parent.replyCount, undefined);
      const r1 = (await s.insertMessage(message(r.id, b.id, 'answer 1', parent.id))).message;
      await s.insertMessage(message(r.id, a.id, 'in the room'));
      const r2 = (await s.insertMessage(message(r.id, b.id, 'answer 2', parent.id))).message;
      assert.equal(r1.parentId, parent.id);
      assert.deepEqual([r1.seq, r2.seq], [2, 4], 'a reply is a message of the room, with its own seq');
      const now1 = (await s.messageById(parent.id))!;
      assert.equal(now1.replyCount, 2);
      assert.equal(now1.lastReplySeq, 4);
      // History and catch-up carry the parent id and the count.
      const history = await s.history(r.id, { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        history.map((m) => [m.seq, m.parentId ?? null, m.replyCount ?? 0]),
        [
          [1, null, 2],
          [2, parent.id, 0],
          [3, null, 0],
          [4, parent.id, 0],
        ],
      );
      const changes = await s.changesSince(r.id, 0, 10);
      assert.deepEqual(
        changes.messages.map((m) => [m.id, m.replyCount]),
        [[parent.id, 2]],
      );
      assert.equal(changes.cursor, 2, 'each reply is one change of the parent');
      assert.deepEqual(
        (await s.threadReplies(parent.id, 0, 10)).map((m) => m.text),
        ['answer 1', 'answer 2'],
      );
      assert.deepEqual(
        (await s.threadReplies(parent.id, 2, 10)).map((m) => m.text),
        ['answer 2'],
      );
      // The sender's thread marker reaches their reply; the parent's author has none.
      assert.equal(await s.threadReadSeq(parent.id, b.id), 4);
      assert.equal(await s.threadReadSeq(parent.id, a.id), undefined);
      assert.equal(await s.markThreadRead(parent.id, a.id, r.id, 2), 2);
      assert.equal(await s.markThreadRead(parent.id, a.id, r.id, 1), 2, 'never back');
      assert.deepEqual(await s.threadReads(r.id, a.id), [{ messageId: parent.id, lastReadSeq: 2 }]);
      // Deleting the parent keeps its thread.
      await s.deleteMessage(parent.id, now());
      const tomb = (await s.messageById(parent.id))!;
      assert.equal(tomb.deleted, true);
      assert.equal(tomb.replyCount, 2);
      assert.equal((await s.threadReplies(parent.id, 0, 10)).length, 2);
    },
  );

  run('a reply to a message of another room is refused and stores nothing', async (_f, s) => {
    const a = await user(s);
    const [r1, r2] = [await room(s, [a.id]), await room(s, [a.id])];
    const elsewhere = (await s.insertMessage(message(r1.id, a.id, 'here'))).message;
    await assert.rejects(
      s.insertMessage(message(r2.id, a.id, 'there', elsewhere.id)),
      /SB_CHAT_NOT_FOUND|No such/,
    );
    assert.deepEqual(await s.roomPosition(r2.id), { lastSeq: 0, changeCursor: 0 });
  });

  run('at most 20 different emoji per message, even from three instances at once', async (f, s) => {
    const users = await Promise.all(Array.from({ length: 3 }, () => user(s)));
    const r = await room(
      s,
      users.map((u) => u.id),
    );
    const m = (await s.insertMessage(message(r.id, users[0]!.id, 'react to me'))).message;
    const emoji = Array.from({ length: 19 }, (_, i) => String.fromCodePoint(0x1f600 + i));
    for (const e of emoji) await s.toggleReaction(m.id, users[0]!.id, e, now(), 20);
    // Three writers race for the 20th place with three different emoji: exactly one wins.
    const writers = [s, await f.open(), await f.open()];
    const outcomes = await Promise.allSettled(
      writers.map((w, i) => w.toggleReaction(m.id, users[i]!.id, ['🍎', '🍐', '🍊'][i]!, now(), 20)),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes.filter((x) => x.status === 'rejected'))
      assert.match(String((o as PromiseRejectedResult).reason), /SB_CHAT_TOO_MANY_REACTIONS|at most 20/);
    const after = (await s.messageById(m.id))!;
    assert.equal(after.reactions.length, 20);
    // An emoji already there still takes more people; taking one's own away always works.
    const reactions = await s.toggleReaction(m.id, users[1]!.id, emoji[0]!, now(), 20);
    assert.equal(reactions.find((x) => x.emoji === emoji[0])?.count, 2);
    const removed = await s.toggleReaction(m.id, users[0]!.id, emoji[1]!, now(), 20);
    assert.equal(removed.length, 19);
  });
}
