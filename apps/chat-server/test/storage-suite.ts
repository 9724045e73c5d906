/**
 * The storage contract (src/storage/storage.ts), run against every implementation: each suite gets
 * a factory for several independent instances over one database (connections, pools), to show the
 * rules hold between writers, not only inside one.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { ChatStorage } from '@switchboard/chat-server';
import { threadTests } from './storage-suite-threads.ts';

/** What a suite needs from an implementation. */
export interface StorageFixture {
  /** Opens another, migrated instance over the same database. */
  open(): Promise<ChatStorage>;
  /** Runs raw SQL without parameters on the database. */
  raw(sql: string): Promise<Record<string, unknown>[]>;
  /** Closes what was opened and drops the data. */
  cleanup(): Promise<void>;
}

const now = () => new Date().toISOString();

async function user(storage: ChatStorage, name = `u${randomUUID().slice(0, 8)}`) {
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
  return storage.createRoom(
    // Public room names are unique: each test room has its own.
    {
      id: randomUUID(),
      name: `r-${randomUUID().slice(0, 8)}`,
      isPrivate: false,
      kind: 'room',
      ownerId: members[0]!,
      createdAt: now(),
    },
    members,
  );
}

function message(
  roomId: string,
  senderId: string,
  text: string,
  clientMessageId = randomUUID(),
  mentions: string[] = [],
) {
  return { id: randomUUID(), roomId, senderId, text, mentions, clientMessageId, sentAt: now() };
}

/** Registers the storage contract tests under `name`. */
export function storageSuite(name: string, fixture: () => Promise<StorageFixture | undefined>): void {
  const run = (title: string, body: (f: StorageFixture, storage: ChatStorage) => Promise<void>) =>
    test(`${name}: ${title}`, async (t) => {
      const f = await fixture();
      if (!f) {
        t.skip('service not available');
        return;
      }
      try {
        await body(f, await f.open());
      } finally {
        await f.cleanup();
      }
    });

  threadTests(run);

  run('migrations are idempotent; users are unique by username, found case-insensitively', async (f, s) => {
    await s.migrate();
    const u = await user(s, 'Alice');
    assert.equal(u.username, 'alice');
    assert.equal((await s.userByUsername('ALICE'))?.id, u.id);
    await assert.rejects(user(s, 'alice'), /SB_CHAT_USERNAME_TAKEN|taken/);
    const other = await f.open();
    assert.equal(await other.getOrCreateSetting('secret', 'first'), 'first');
    assert.equal(
      await s.getOrCreateSetting('secret', 'second'),
      'first',
      'first writer wins, on every instance',
    );
  });

  run('seq is gap-free under concurrent inserts from three instances', async (f, s) => {
    const u = await user(s);
    const r = await room(s, [u.id]);
    const writers = [s, await f.open(), await f.open()];
    const perWriter = 20;
    const results = await Promise.all(
      writers.flatMap((w, i) =>
        Array.from({ length: perWriter }, (_, j) => w.insertMessage(message(r.id, u.id, `w${i} m${j}`))),
      ),
    );
    const seqs = results.map((x) => x.message.seq).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: writers.length * perWriter }, (_, i) => i + 1),
    );
    const history = await s.history(r.id, { afterSeq: 0, limit: 200 });
    assert.deepEqual(
      history.map((m) => m.seq),
      seqs,
    );
  });

  run(
    'a clientMessageId stores once, even sent at once from three instances, and uses no seq',
    async (f, s) => {
      const u = await user(s);
      const r = await room(s, [u.id]);
      const writers = [s, await f.open(), await f.open()];
      const same = randomUUID();
      const results = await Promise.all(
        writers.map((w) => w.insertMessage(message(r.id, u.id, 'dup', same))),
      );
      assert.equal(results.filter((x) => x.created).length, 1);
      assert.equal(new Set(results.map((x) => x.message.id)).size, 1);
      assert.equal((await s.insertMessage(message(r.id, u.id, 'next'))).message.seq, 2);
    },
  );

  run(
    'a clientMessageId is unique per room and sender: the same id in another room is another message',
    async (_f, s) => {
      const u = await user(s);
      const r1 = await room(s, [u.id]);
      const r2 = await room(s, [u.id]);
      const same = randomUUID();
      const first = await s.insertMessage(message(r1.id, u.id, 'in one', same));
      const second = await s.insertMessage(message(r2.id, u.id, 'in two', same));
      assert.equal(first.created, true);
      assert.equal(second.created, true);
      assert.equal(second.message.roomId, r2.id);
      assert.equal(second.message.text, 'in two');
      const again = await s.insertMessage(message(r2.id, u.id, 'retry', same));
      assert.equal(again.created, false);
      assert.equal(again.message.id, second.message.id);
    },
  );

  run('login failures: counted per key, a block time, cleared; known addresses expire', async (_f, s) => {
    const key = `account:${randomUUID()}`;
    const now = Date.now();
    assert.equal(await s.loginBlockedUntil(key), 0);
    assert.equal(await s.addLoginFailure(key, now, now - 1000), 1);
    assert.equal(await s.addLoginFailure(key, now + 1, now - 1000), 2);
    // A count untouched since before staleBefore starts again.
    assert.equal(await s.addLoginFailure(key, now + 5000, now + 2), 1);
    await s.blockLogin(key, now + 60_000);
    assert.equal(await s.loginBlockedUntil(key), now + 60_000);
    await s.clearLoginFailures(key);
    assert.equal(await s.loginBlockedUntil(key), 0);
    const u = await user(s);
    assert.equal(await s.isKnownLoginAddress(u.id, 'h1', now - 1000), false);
    await s.rememberLoginAddress(u.id, 'h1', now);
    assert.equal(await s.isKnownLoginAddress(u.id, 'h1', now - 1000), true);
    assert.equal(await s.isKnownLoginAddress(u.id, 'h1', now + 1000), false);
    assert.equal(await s.isKnownLoginAddress(u.id, 'h2', now - 1000), false);
  });

  run('history pages: newest, before, after', async (_f, s) => {
    const u = await user(s);
    const r = await room(s, [u.id]);
    for (let i = 1; i <= 7; i++) await s.insertMessage(message(r.id, u.id, `m${i}`));
    const seqs = async (q: Parameters<ChatStorage['history']>[1]) =>
      (await s.history(r.id, q)).map((m) => m.seq);
    assert.deepEqual(await seqs({ limit: 3 }), [5, 6, 7]);
    assert.deepEqual(await seqs({ beforeSeq: 5, limit: 2 }), [3, 4]);
    assert.deepEqual(await seqs({ afterSeq: 5, limit: 10 }), [6, 7]);
    assert.deepEqual(await seqs({ afterSeq: 1, beforeSeq: 4, limit: 10 }), [2, 3]);
  });

  run('edit, reactions, search; delete removes text, mentions, reactions and search hits', async (f, s) => {
    const [a, b] = [await user(s), await user(s)];
    const r = await room(s, [a.id, b.id]);
    const { message: m } = await s.insertMessage(
      message(r.id, a.id, 'the gnarlyzebra runs', undefined, [b.id]),
    );
    assert.deepEqual(m.mentions, [b.id]);
    const edited = await s.editMessage(m.id, 'the gnarlyzebra walks', [b.id], now());
    assert.ok(edited.editedAt);
    assert.equal((await s.searchMessages(b.id, 'walks', undefined, 10)).length, 1);
    assert.equal((await s.searchMessages(b.id, 'runs', undefined, 10)).length, 0);
    const outsider = await user(s);
    assert.equal(
      (await s.searchMessages(outsider.id, 'gnarlyzebra', undefined, 10)).length,
      0,
      'members only',
    );
    assert.deepEqual(await s.toggleReaction(m.id, b.id, '🎉', now()), [
      { emoji: '🎉', count: 1, userIds: [b.id] },
    ]);
    await s.toggleReaction(m.id, a.id, '🎉', now());
    assert.equal((await s.messageById(m.id))?.reactions[0]?.count, 2);
    assert.equal((await s.roomSummaries(b.id))[0]?.mentionCount, 1);
    const deleted = await s.deleteMessage(m.id);
    assert.deepEqual(
      [deleted.deleted, deleted.text, deleted.reactions, deleted.mentions],
      [true, '', [], []],
    );
    assert.equal((await s.searchMessages(b.id, 'gnarlyzebra', undefined, 10)).length, 0);
    assert.equal((await s.roomSummaries(b.id))[0]?.mentionCount, 0);
    const left = await f.raw("SELECT COUNT(*) AS n FROM messages WHERE text LIKE '%gnarlyzebra%'");
    assert.equal(Number(left[0]?.n), 0);
  });

  run('search finds words by prefix, members only, not inside words', async (_f, s) => {
    const [a, b] = [await user(s), await user(s)];
    const r = await room(s, [a.id, b.id]);
    await s.insertMessage(message(r.id, a.id, 'Thanks for the Quokkareport!'));
    await s.insertMessage(message(r.id, a.id, 'unthankful words'));
    const texts = async (q: string) => (await s.searchMessages(b.id, q, undefined, 10)).map((m) => m.text);
    assert.deepEqual(await texts('thank'), ['Thanks for the Quokkareport!']);
    assert.deepEqual(await texts('THA quokka'), ['Thanks for the Quokkareport!'], 'every word a prefix');
    assert.deepEqual(await texts('thanks'), ['Thanks for the Quokkareport!']);
    assert.deepEqual(await texts('report'), [], 'a prefix, not a part of a word');
    assert.deepEqual(await texts('"thank*:('), ['Thanks for the Quokkareport!'], 'operators are ignored');
    assert.deepEqual(await texts('thank OR zebra'), [], 'every word must match');
    assert.deepEqual(await texts('*:& |'), []);
  });

  run(
    "room names are unique, ignoring case, among public rooms and among one owner's rooms",
    async (f, s) => {
      const [a, b] = [await user(s), await user(s)];
      const make = (w: ChatStorage, owner: string, name: string, isPrivate: boolean) =>
        w.createRoom({ id: randomUUID(), name, isPrivate, kind: 'room', ownerId: owner, createdAt: now() }, [
          owner,
        ]);
      await make(s, a.id, 'Général', false);
      await assert.rejects(make(s, b.id, 'GÉNÉRAL', false), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'SB_CHAT_ROOM_NAME_TAKEN');
        assert.match(e.message, /public room named "GÉNÉRAL"/);
        return true;
      });
      await assert.rejects(make(s, a.id, ' général ', true), /SB_CHAT_ROOM_NAME_TAKEN|already have a room/);
      // Someone else's private room may share a public room's name, and private rooms of two owners
      // may share one too; one owner's two private rooms may not.
      await make(s, b.id, 'général', true);
      await make(s, a.id, 'Plans', true);
      await make(s, b.id, 'plans', true);
      await assert.rejects(make(s, b.id, 'PLANS', true), /You already have a room named "PLANS"/);
      await assert.rejects(make(s, a.id, 'plans', false), /You already have a room named/);
      // Direct and support rooms are not held to it.
      for (const kind of ['support', 'support'] as const)
        await s.createRoom(
          { id: randomUUID(), name: 'Support: Ann', isPrivate: true, kind, ownerId: null, createdAt: now() },
          [a.id],
        );
      // Two instances creating one public name at once: exactly one wins.
      const other = await f.open();
      const results = await Promise.allSettled([
        make(s, a.id, 'Race', false),
        make(other, b.id, 'race', false),
      ]);
      assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
      assert.equal((await s.publicRooms(50)).filter((x) => x.name.toLowerCase() === 'race').length, 1);
    },
  );

  run(
    'read markers: unread excludes own and deleted messages; the marker never moves back',
    async (_f, s) => {
      const [a, b] = [await user(s), await user(s)];
      const r = await room(s, [a.id, b.id]);
      for (let i = 0; i < 3; i++) await s.insertMessage(message(r.id, a.id, `x${i}`));
      await s.insertMessage(message(r.id, b.id, 'mine'));
      let [summary] = await s.roomSummaries(b.id);
      assert.deepEqual([summary?.unreadCount, summary?.lastReadSeq], [0, 4], 'posting reads up to it');
      await s.insertMessage(message(r.id, a.id, 'new'));
      [summary] = await s.roomSummaries(b.id);
      assert.equal(summary?.unreadCount, 1);
      assert.equal(summary?.lastMessage?.text, 'new');
      assert.deepEqual(await s.markRead(r.id, b.id, 99), {
        roomId: r.id,
        lastReadSeq: 5,
        unreadCount: 0,
        mentionCount: 0,
      });
      assert.equal((await s.markRead(r.id, b.id, 1)).lastReadSeq, 5);
    },
  );

  run('direct rooms: the same key gives one room, even created at once from two instances', async (f, s) => {
    const [a, b] = [await user(s), await user(s)];
    const key = [a.id, b.id].sort().join(',');
    const make = (w: ChatStorage) =>
      w.createRoom(
        {
          id: randomUUID(),
          name: 'dm',
          isPrivate: true,
          kind: 'direct',
          ownerId: null,
          directKey: key,
          createdAt: now(),
        },
        [a.id, b.id],
      );
    const [x, y] = await Promise.all([make(s), make(await f.open())]);
    assert.equal(x.id, y.id);
    assert.equal((await s.directRoomByKey(key))?.id, x.id);
  });

  run(
    'support: of three concurrent claims exactly one wins; capacity holds; revocation list',
    async (f, s) => {
      const customer = await user(s);
      const agents = [await user(s), await user(s), await user(s)];
      const r = await s.createRoom(
        {
          id: randomUUID(),
          name: 'support',
          isPrivate: true,
          kind: 'support',
          ownerId: customer.id,
          createdAt: now(),
        },
        [customer.id],
      );
      const req = await s.createSupportRequest({
        id: randomUUID(),
        customerId: customer.id,
        roomId: r.id,
        subject: 's',
        createdAt: now(),
      });
      const writers = [s, await f.open(), await f.open()];
      const wins = await Promise.all(
        writers.map((w, i) => w.claimSupportRequest(req.id, agents[i]!.id, 5, now())),
      );
      assert.equal(wins.filter(Boolean).length, 1);
      const winner = agents[wins.indexOf(true)]!;
      assert.equal((await s.supportRequestById(req.id))?.agentId, winner.id);
      const req2 = await s.createSupportRequest({
        id: randomUUID(),
        customerId: customer.id,
        roomId: r.id,
        subject: 't',
        createdAt: now(),
      });
      assert.equal(await s.claimSupportRequest(req2.id, winner.id, 1, now()), false, 'at capacity');
      assert.equal(
        await s.transferSupportRequest(
          req.id,
          winner.id,
          agents[0] === winner ? agents[1]!.id : agents[0]!.id,
          5,
          now(),
        ),
        true,
      );
      assert.equal(await s.closeSupportRequest(req.id, now()), true);
      assert.equal(await s.closeSupportRequest(req.id, now()), false);
      await s.revokeToken('jti-1', Date.now() + 60_000);
      assert.equal(await (await f.open()).isTokenRevoked('jti-1'), true);
      assert.equal(await s.isTokenRevoked('jti-2'), false);
    },
  );

  run('rate buckets: takes from every instance at once share one bucket; keys are apart', async (f, s) => {
    const other = await f.open();
    // One token per 1,000 s: nothing refills while the test runs, so exactly the burst is taken.
    const takes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? s : other).takeRateToken('message:u1', 0.001, 5)),
    );
    assert.equal(takes.filter(Boolean).length, 5, 'the burst, shared by both instances');
    assert.equal(await other.takeRateToken('message:u1', 0.001, 5), false);
    assert.equal(await other.takeRateToken('message:u2', 0.001, 5), true, 'another key, another bucket');
    // A fast refill: a bucket emptied earlier has tokens again once time passed.
    assert.equal(await s.takeRateToken('fast', 1_000_000, 1), true);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await s.takeRateToken('fast', 1_000_000, 1), true);
  });

  run(
    'change log: numbered changes from three instances, a cursor, pages, the message changeSeq',
    async (f, s) => {
      const u = await user(s);
      const r = await room(s, [u.id]);
      const a = (await s.insertMessage(message(r.id, u.id, 'a'))).message;
      const b = (await s.insertMessage(message(r.id, u.id, 'b'))).message;
      assert.equal(a.changeSeq, 0);
      assert.deepEqual(await s.roomPosition(r.id), { lastSeq: 2, changeCursor: 0 });
      const empty = await s.changesSince(r.id, 0, 10);
      assert.deepEqual(empty, { cursor: 0, messages: [], more: false, expired: false });
      // Edits and reactions on three instances at once: every number once, in the log and the room.
      const writers = [s, await f.open(), await f.open()];
      await Promise.all(
        writers.flatMap((w, i) => [
          w.toggleReaction(a.id, u.id, `e${i}`, now()),
          w.editMessage(b.id, `b${i}`, [], now()),
        ]),
      );
      assert.deepEqual(await s.roomPosition(r.id), { lastSeq: 2, changeCursor: 6 });
      const all = await s.changesSince(r.id, 0, 100);
      assert.equal(all.cursor, 6);
      assert.equal(all.more, false);
      assert.deepEqual(
        all.messages.map((m) => [m.id, m.reactions.length]),
        [
          [a.id, 3],
          [b.id, 0],
        ],
      );
      assert.ok(all.messages.every((m) => m.changeSeq >= 1 && m.changeSeq <= 6));
      assert.equal(new Set(all.messages.map((m) => m.changeSeq)).size, 2);
      // Pages: two changes at a time, then nothing after the cursor.
      const first = await s.changesSince(r.id, 0, 2);
      assert.equal(first.cursor, 2);
      assert.equal(first.more, true);
      const rest = await s.changesSince(r.id, 6, 2);
      assert.deepEqual(rest, { cursor: 6, messages: [], more: false, expired: false });
      // A deletion is a change too: the tombstone, without reactions.
      await s.deleteMessage(a.id, now());
      const deleted = await s.changesSince(r.id, 6, 10);
      assert.equal(deleted.cursor, 7);
      assert.deepEqual(
        deleted.messages.map((m) => [m.id, m.deleted, m.reactions.length, m.changeSeq]),
        [[a.id, true, 0, 7]],
      );
      assert.equal((await s.history(r.id, { limit: 10 }))[0]!.changeSeq, 7);
      // A cursor from the future, or an unknown room, asks for a reload.
      assert.equal((await s.changesSince(r.id, 99, 10)).expired, true);
      assert.equal((await s.changesSince('no-such-room', 0, 10)).expired, true);
      assert.equal(await s.roomPosition('no-such-room'), undefined);
    },
  );

  run(
    'change log: entries older than 30 days are purged; an older cursor is told to reload',
    async (_f, s) => {
      const u = await user(s);
      const r = await room(s, [u.id]);
      const m = (await s.insertMessage(message(r.id, u.id, 'old'))).message;
      const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 3600_000).toISOString();
      await s.toggleReaction(m.id, u.id, '👍', daysAgo(40));
      await s.editMessage(m.id, 'older', [], daysAgo(35));
      assert.equal((await s.changesSince(r.id, 0, 10)).expired, false, 'nothing purged yet');
      // The next change purges what is older than 30 days: changes 1 and 2 are gone.
      await s.toggleReaction(m.id, u.id, '👍', daysAgo(29));
      await s.editMessage(m.id, 'new', [], now());
      for (const since of [0, 1]) {
        const page = await s.changesSince(r.id, since, 10);
        assert.equal(page.expired, true, `cursor ${since} is older than the log`);
        assert.deepEqual(page.messages, []);
      }
      const kept = await s.changesSince(r.id, 2, 10);
      assert.equal(kept.expired, false);
      assert.equal(kept.cursor, 4);
      assert.deepEqual(
        kept.messages.map((x) => [x.text, x.reactions.length]),
        [['new', 0]],
      );
    },
  );
}
