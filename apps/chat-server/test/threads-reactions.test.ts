// Replies, threads and reactions over the hub, on SQLite and on PostgreSQL: who may read a thread,
// reply or react (members only; a guest only in their own support room), the thread's read state,
// a deleted parent keeping its thread, and the reaction rules (one emoji, 20 different at most).
import assert from 'node:assert/strict';
import { after, type TestContext, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { PostgresStorage } from '@switchboard/chat-server';
import { requireService } from '@switchboard/testkit';
import pg from 'pg';
import { type ChatTestServer, cid, record, startChat, type Wire, waitCount } from './helpers.ts';

const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `chat_threads_${process.pid}_${Date.now()}`;

function scenarios(name: string, start: (t: TestContext) => Promise<ChatTestServer | undefined>): void {
  let s: ChatTestServer | undefined;
  let starting: Promise<ChatTestServer | undefined> | undefined;
  const ready = async (t: TestContext) => {
    starting ??= start(t);
    s = await starting;
    return s;
  };
  after(() => s?.close());

  const users = async (...names: string[]) =>
    Promise.all(
      names.map(async (n) => {
        const session = await s!.register(n);
        return { session, c: await s!.connect(session.token) };
      }),
    );
  const send = (c: HubConnection, roomId: string, text: string, parentId?: string): Promise<Wire> =>
    c.invoke('sendMessage', { roomId, text, clientMessageId: cid(), ...(parentId ? { parentId } : {}) });

  test(`${name}: a reply carries its parent; the thread, its count and its own read state`, async (t) => {
    if (!(await ready(t))) return;
    const [alice, bob] = await users('alice', 'bob');
    const room = await alice!.c.invoke('createRoom', { name: `threads ${cid()}`, isPrivate: true });
    await alice!.c.invoke('inviteToRoom', room.id, bob!.session.user.id);
    const ea = record(alice!.c);
    const parent = await send(alice!.c, room.id, 'lunch?');
    const reply = await send(bob!.c, room.id, 'yes', parent.id);
    assert.equal(reply.parentId, parent.id);
    // A reply to a reply goes to the same thread.
    const nested = await send(alice!.c, room.id, 'noon', reply.id);
    assert.equal(nested.parentId, parent.id);
    await waitCount(ea.threadUpdated!, 2, 'threadUpdated');
    assert.deepEqual(
      ea.threadUpdated!.map((e) => [e.messageId, e.replyCount, e.lastReplySeq]),
      [
        [parent.id, 1, 2],
        [parent.id, 2, 3],
      ],
    );
    const thread = await bob!.c.invoke('getThread', { messageId: reply.id });
    assert.equal(thread.parent.id, parent.id);
    assert.equal(thread.parent.replyCount, 2);
    assert.deepEqual(
      thread.replies.map((m: Wire) => m.text),
      ['yes', 'noon'],
    );
    assert.equal(thread.lastReadSeq, 2, "bob's marker reaches his own reply");
    assert.deepEqual(await bob!.c.invoke('markThreadRead', { messageId: parent.id, seq: 99 }), {
      messageId: parent.id,
      lastReadSeq: 3,
    });
    assert.deepEqual(await bob!.c.invoke('listThreadReads', room.id), [
      { messageId: parent.id, lastReadSeq: 3 },
    ]);
    // History carries the parent id; deleting the parent keeps the thread.
    const page = await alice!.c.invoke('getMessages', { roomId: room.id });
    assert.deepEqual(
      page.messages.map((m: Wire) => m.parentId ?? null),
      [null, parent.id, parent.id],
    );
    await alice!.c.invoke('deleteMessage', { messageId: parent.id });
    const kept = await bob!.c.invoke('getThread', { messageId: parent.id });
    assert.equal(kept.parent.deleted, true);
    assert.equal(kept.replies.length, 2);
    const late = await send(bob!.c, room.id, 'late', parent.id);
    assert.equal(late.parentId, parent.id, 'the thread of a deleted message stays open');
  });

  test(`${name}: a non-member cannot read a thread, reply, react or move a thread marker; guests only in their room`, async (t) => {
    if (!(await ready(t))) return;
    const [alice, carol] = await users('alice', 'carol');
    const room = await alice!.c.invoke('createRoom', { name: `private ${cid()}`, isPrivate: true });
    const other = await carol!.c.invoke('createRoom', { name: `carols ${cid()}`, isPrivate: true });
    const parent = await send(alice!.c, room.id, 'secret thread');
    await send(alice!.c, room.id, 'secret reply', parent.id);
    const guestSession = await s!.guest('Gus');
    const guest = await s!.connect(guestSession.token);
    for (const c of [carol!.c, guest]) {
      for (const call of [
        c.invoke('getThread', { messageId: parent.id }),
        c.invoke('markThreadRead', { messageId: parent.id, seq: 2 }),
        c.invoke('listThreadReads', room.id),
        c.invoke('react', { messageId: parent.id, emoji: '👍' }),
        send(c, room.id, 'butting in', parent.id),
      ]) {
        await assert.rejects(call, (error: Error) => {
          assert.match(error.message, /SB_CHAT_FORBIDDEN/);
          assert.doesNotMatch(error.message, /secret/);
          return true;
        });
      }
    }
    // A member of another room cannot reply across rooms with a parent id from this one.
    await assert.rejects(send(carol!.c, other.id, 'sneaky', parent.id), /SB_CHAT_NOT_FOUND/);
    // A guest replies and reacts in their own support room, as they post there.
    const request = await guest.invoke('openSupportRequest', { subject: 'help', text: 'my order' });
    const [first] = (await guest.invoke('getMessages', { roomId: request.roomId })).messages;
    const guestReply = await send(guest, request.roomId, 'more detail', first.id);
    assert.equal(guestReply.parentId, first.id);
    assert.equal((await guest.invoke('react', { messageId: first.id, emoji: '🙏' }))[0].emoji, '🙏');
    assert.equal((await guest.invoke('getThread', { messageId: first.id })).replies.length, 1);
  });

  test(`${name}: a reaction is exactly one emoji; at most 20 different per message, refused clearly`, async (t) => {
    if (!(await ready(t))) return;
    const [alice, bob] = await users('alice', 'bob');
    const room = await alice!.c.invoke('createRoom', { name: `reactions ${cid()}`, isPrivate: true });
    await alice!.c.invoke('inviteToRoom', room.id, bob!.session.user.id);
    const m = await send(alice!.c, room.id, 'react');
    for (const bad of ['a', 'ok', '👍👍', '👍 ', '<img src=x>', '', '🏳️‍🌈'.repeat(3), 'x'.repeat(40)]) {
      await assert.rejects(
        alice!.c.invoke('react', { messageId: m.id, emoji: bad }),
        /SB_CHAT_INVALID_REACTION/,
        bad,
      );
    }
    await assert.rejects(
      alice!.c.invoke('react', { messageId: m.id, emoji: 42 }),
      /SB_CHAT_INVALID_REACTION/,
    );
    for (const good of ['👨‍👩‍👧‍👦', '👍🏽', '🇫🇷', '❤️']) {
      const after = await alice!.c.invoke('react', { messageId: m.id, emoji: good });
      assert.ok(
        after.some((r: Wire) => r.emoji === good),
        good,
      );
    }
    const more = Array.from({ length: 16 }, (_, i) => String.fromCodePoint(0x1f400 + i));
    for (const e of more) await alice!.c.invoke('react', { messageId: m.id, emoji: e });
    await assert.rejects(bob!.c.invoke('react', { messageId: m.id, emoji: '🎉' }), (e: Error) => {
      assert.match(e.message, /SB_CHAT_TOO_MANY_REACTIONS: .*at most 20/);
      return true;
    });
    // The 20 there still take more people, and toggling stays per person.
    const withBob = await bob!.c.invoke('react', { messageId: m.id, emoji: '👍🏽' });
    assert.deepEqual(withBob.find((r: Wire) => r.emoji === '👍🏽').count, 2);
    const back = await bob!.c.invoke('react', { messageId: m.id, emoji: '👍🏽' });
    assert.deepEqual(back.find((r: Wire) => r.emoji === '👍🏽').userIds, [alice!.session.user.id]);
  });
}

scenarios('sqlite', () => startChat({ MESSAGE_RATE_LIMIT: '1000' }));

let pgStorage: PostgresStorage | undefined;
scenarios('postgres', async (t) => {
  if (!(await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 })))
    return undefined;
  pgStorage = new PostgresStorage({ connectionString: PG_URL, schema, maxConnections: 5 });
  await pgStorage.migrate();
  return startChat({ MESSAGE_RATE_LIMIT: '1000' }, { storage: pgStorage });
});

after(async () => {
  if (!pgStorage) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});
