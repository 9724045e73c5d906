// Favourites, invite links, thread states and archived rooms over the hub, on SQLite and on
// PostgreSQL: a favourite is kept per user and reaches the user's other device; only a room's
// owner or an admin creates, lists and revokes invite links; a signed-in user joins a private room
// with one; a guest is refused; expired, used-up and revoked links are refused with their codes;
// a thread's people (its first message's author and its repliers) get `threadActivity` and an
// unread count, a non-member sees no thread state; an archived room refuses edits, deletions,
// reactions, replies, uploads and invite links. PostgreSQL skips loudly without it.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import { type ChatTestServer, cid, record, settle, startChat, type Wire } from './helpers.ts';
import { DATABASE_URL } from './process-cluster.ts';
import { uploadAttachment } from './uploads.ts';

const schemas: string[] = [];

test.after(async () => {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

const storages: { name: string; setup: (t: TestContext) => Promise<ChatTestServer | undefined> }[] = [
  { name: 'sqlite', setup: async () => startChat() },
  {
    name: 'postgres',
    setup: async (t) => {
      if (!(await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 })))
        return undefined;
      const schema = `rmh_extras_${process.pid}_${Date.now()}`;
      schemas.push(schema);
      return startChat({ DATABASE_URL, DATABASE_SCHEMA: schema });
    },
  },
];

for (const { name, setup } of storages) {
  test(`${name}: favourites are kept per user and reach the user's other devices`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const [alice, bob] = [await server.register('alice'), await server.register('bob')];
      const phone = await server.connect(alice.token);
      const laptop = await server.connect(alice.token);
      const bobHub = await server.connect(bob.token);
      const onLaptop = record(laptop);
      onLaptop.favouriteUpdated = [];
      laptop.on('favouriteUpdated', (e: Wire) => onLaptop.favouriteUpdated!.push(e));
      const room = await phone.invoke('createRoom', { name: `fav ${cid()}`, isPrivate: false });
      await bobHub.invoke('joinRoom', room.id);
      assert.deepEqual(await phone.invoke('setFavourite', { roomId: room.id, favourite: true }), {
        roomId: room.id,
        favourite: true,
      });
      await waitFor(() => onLaptop.favouriteUpdated!.length === 1, 10_000, 'favouriteUpdated');
      assert.deepEqual(onLaptop.favouriteUpdated![0], { roomId: room.id, favourite: true });
      const mine = (await laptop.invoke('listRooms')).find((r: Wire) => r.id === room.id);
      assert.equal(mine.favourite, true);
      // Per user: Bob's list does not carry Alice's mark.
      const his = (await bobHub.invoke('listRooms')).find((r: Wire) => r.id === room.id);
      assert.equal(his.favourite, undefined);
      await laptop.invoke('setFavourite', { roomId: room.id, favourite: false });
      assert.equal(
        (await phone.invoke('listRooms')).find((r: Wire) => r.id === room.id).favourite,
        undefined,
      );
      // Only rooms of one's own.
      const other = await bobHub.invoke('createRoom', { name: `private ${cid()}`, isPrivate: true });
      await assert.rejects(
        phone.invoke('setFavourite', { roomId: other.id, favourite: true }),
        /SB_CHAT_FORBIDDEN/,
      );
    } finally {
      await server.close();
    }
  });

  test(`${name}: invite links: owners and admins manage them; signed-in users join; guests and spent links are refused`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const [owner, member, newcomer, second, guest] = [
        await server.register('owner'),
        await server.register('member'),
        await server.register('newcomer'),
        await server.register('second'),
        await server.guest('Gus'),
      ];
      const ownerHub = await server.connect(owner.token);
      const memberHub = await server.connect(member.token);
      const newcomerHub = await server.connect(newcomer.token);
      const secondHub = await server.connect(second.token);
      const guestHub = await server.connect(guest.token);
      const room = await ownerHub.invoke('createRoom', { name: `secret ${cid()}`, isPrivate: true });
      await ownerHub.invoke('inviteToRoom', room.id, member.user.id);

      // Only the owner (or an admin) manages links.
      await assert.rejects(memberHub.invoke('createInvite', { roomId: room.id }), /SB_CHAT_FORBIDDEN/);
      await assert.rejects(newcomerHub.invoke('createInvite', { roomId: room.id }), /SB_CHAT_FORBIDDEN/);
      await assert.rejects(guestHub.invoke('createInvite', { roomId: room.id }), /SB_CHAT_FORBIDDEN/);
      await assert.rejects(
        ownerHub.invoke('createInvite', { roomId: room.id, maxUses: 0 }),
        /SB_CHAT_INVALID_INPUT: maxUses/,
      );
      const invite = await ownerHub.invoke('createInvite', { roomId: room.id, maxUses: 2 });
      assert.equal(invite.status, 'active');
      assert.equal(invite.path, `/invite/${invite.token}`);
      assert.equal(invite.maxUses, 2);
      assert.ok(Date.parse(invite.expiresAt) > Date.now() + 6 * 24 * 3600_000, 'a week by default');
      await assert.rejects(memberHub.invoke('listInvites', room.id), /SB_CHAT_FORBIDDEN/);
      await assert.rejects(memberHub.invoke('revokeInvite', invite.id), /SB_CHAT_FORBIDDEN/);

      // A guest is never a room member.
      await assert.rejects(
        guestHub.invoke('acceptInvite', invite.token),
        /SB_CHAT_FORBIDDEN: Guests cannot join/,
      );
      // A signed-in user joins the private room; a member already in takes no use.
      const events = record(ownerHub);
      const joined = await newcomerHub.invoke('acceptInvite', invite.token);
      assert.equal(joined.id, room.id);
      assert.ok(await server.app.storage.isMember(room.id, newcomer.user.id));
      await waitFor(
        () =>
          events.roomUpdated!.some((e: Wire) => e.change === 'memberJoined' && e.userId === newcomer.user.id),
        10_000,
        'memberJoined',
      );
      await newcomerHub.invoke('sendMessage', { roomId: room.id, text: 'hi all', clientMessageId: cid() });
      await memberHub.invoke('acceptInvite', invite.token);
      assert.equal((await ownerHub.invoke('listInvites', room.id))[0].uses, 1);
      await secondHub.invoke('acceptInvite', invite.token);
      const third = await server.register('third');
      const thirdHub = await server.connect(third.token);
      await assert.rejects(thirdHub.invoke('acceptInvite', invite.token), /SB_CHAT_INVITE_USED_UP/);
      assert.ok(!(await server.app.storage.isMember(room.id, third.user.id)));

      // Revoked.
      const revocable = await ownerHub.invoke('createInvite', { roomId: room.id });
      const revoked = await ownerHub.invoke('revokeInvite', revocable.id);
      assert.equal(revoked.status, 'revoked');
      await assert.rejects(thirdHub.invoke('acceptInvite', revocable.token), /SB_CHAT_INVITE_REVOKED/);
      // Expired.
      const brief = await ownerHub.invoke('createInvite', { roomId: room.id, expiresInSeconds: 1 });
      await waitFor(() => Date.now() > Date.parse(brief.expiresAt) + 50, 5_000, 'expiry');
      await assert.rejects(thirdHub.invoke('acceptInvite', brief.token), /SB_CHAT_INVITE_EXPIRED/);
      await assert.rejects(thirdHub.invoke('acceptInvite', 'x'.repeat(32)), /SB_CHAT_NOT_FOUND/);
      await assert.rejects(thirdHub.invoke('acceptInvite', '../etc'), /SB_CHAT_INVALID_INPUT: token/);
      const statuses = (await ownerHub.invoke('listInvites', room.id)).map((i: Wire) => i.status);
      assert.deepEqual(statuses.sort(), ['expired', 'revoked', 'usedUp']);
      assert.ok(!(await server.app.storage.isMember(room.id, third.user.id)));
    } finally {
      await server.close();
    }
  });

  test(`${name}: a thread's people get its unread state and activity; non-members see none`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const [author, replier, reader, outsider] = [
        await server.register('author'),
        await server.register('replier'),
        await server.register('reader'),
        await server.register('outsider'),
      ];
      const authorHub = await server.connect(author.token);
      const replierHub = await server.connect(replier.token);
      const readerHub = await server.connect(reader.token);
      const outsiderHub = await server.connect(outsider.token);
      const activity: Record<string, Wire[]> = { author: [], replier: [], reader: [] };
      for (const [who, hub] of [
        ['author', authorHub],
        ['replier', replierHub],
        ['reader', readerHub],
      ] as const)
        hub.on('threadActivity', (e: Wire) => activity[who]!.push(e));
      const room = await authorHub.invoke('createRoom', { name: `threads ${cid()}`, isPrivate: false });
      await replierHub.invoke('joinRoom', room.id);
      await readerHub.invoke('joinRoom', room.id);
      const parent = await authorHub.invoke('sendMessage', {
        roomId: room.id,
        text: 'topic',
        clientMessageId: cid(),
      });
      const first = await replierHub.invoke('sendMessage', {
        roomId: room.id,
        text: 'a reply',
        clientMessageId: cid(),
        parentId: parent.id,
      });
      await waitFor(() => activity.author!.length === 1, 10_000, 'threadActivity to the author');
      assert.equal(activity.author![0].reply.id, first.id);
      assert.deepEqual(activity.author![0].state, {
        roomId: room.id,
        messageId: parent.id,
        replyCount: 1,
        lastReplySeq: first.seq,
        lastReadSeq: 0,
        unreadCount: 1,
      });
      // The author answers: the replier is in the thread now and hears of it; the reader is not.
      const second = await authorHub.invoke('sendMessage', {
        roomId: room.id,
        text: 'thanks',
        clientMessageId: cid(),
        parentId: first.id,
      });
      await waitFor(() => activity.replier!.length === 1, 10_000, 'threadActivity to the replier');
      assert.equal(activity.replier![0].state.unreadCount, 1);
      await settle(200);
      assert.equal(activity.reader!.length, 0, 'someone outside the thread hears nothing');
      assert.equal(activity.author!.length, 1, 'nobody hears of their own reply');

      const [authorState] = await authorHub.invoke('listThreadStates', room.id);
      assert.deepEqual(
        [authorState.messageId, authorState.unreadCount, authorState.lastReadSeq],
        [parent.id, 0, second.seq],
      );
      // Reading a thread does not put one in it.
      await readerHub.invoke('markThreadRead', { messageId: parent.id, seq: first.seq });
      assert.deepEqual(await readerHub.invoke('listThreadStates', room.id), []);
      await replierHub.invoke('markThreadRead', { messageId: parent.id, seq: second.seq });
      assert.equal((await replierHub.invoke('listThreadStates', room.id))[0].unreadCount, 0);
      await assert.rejects(outsiderHub.invoke('listThreadStates', room.id), /SB_CHAT_FORBIDDEN/);
    } finally {
      await server.close();
    }
  });

  test(`${name}: an archived room is read-only: edits, deletions, reactions, replies, uploads and invites are refused`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const [owner, member, newcomer] = [
        await server.register('owner'),
        await server.register('member'),
        await server.register('newcomer'),
      ];
      const ownerHub = await server.connect(owner.token);
      const memberHub = await server.connect(member.token);
      const newcomerHub = await server.connect(newcomer.token);
      const room = await ownerHub.invoke('createRoom', { name: `archive ${cid()}`, isPrivate: false });
      await memberHub.invoke('joinRoom', room.id);
      const message = await memberHub.invoke('sendMessage', {
        roomId: room.id,
        text: 'mine',
        clientMessageId: cid(),
      });
      const invite = await ownerHub.invoke('createInvite', { roomId: room.id });
      await ownerHub.invoke('updateRoom', { roomId: room.id, archived: true });

      const archived = /SB_CHAT_ROOM_ARCHIVED/;
      await assert.rejects(
        memberHub.invoke('editMessage', { messageId: message.id, text: 'changed' }),
        archived,
      );
      await assert.rejects(memberHub.invoke('deleteMessage', { messageId: message.id }), archived);
      await assert.rejects(ownerHub.invoke('deleteMessage', { messageId: message.id }), archived);
      await assert.rejects(memberHub.invoke('react', { messageId: message.id, emoji: '👍' }), archived);
      await assert.rejects(
        memberHub.invoke('sendMessage', {
          roomId: room.id,
          text: 'r',
          clientMessageId: cid(),
          parentId: message.id,
        }),
        archived,
      );
      await assert.rejects(ownerHub.invoke('createInvite', { roomId: room.id }), archived);
      await assert.rejects(newcomerHub.invoke('acceptInvite', invite.token), archived);
      const refused = await uploadAttachment(server, room.id, member.token);
      assert.deepEqual([refused.status, refused.body.error.code], [409, 'SB_CHAT_ROOM_ARCHIVED']);
      const stored = await server.app.storage.messageById(message.id);
      assert.deepEqual([stored?.text, stored?.deleted, stored?.reactions], ['mine', undefined, []]);

      // Restored: everything works again.
      await ownerHub.invoke('updateRoom', { roomId: room.id, archived: false });
      await memberHub.invoke('react', { messageId: message.id, emoji: '👍' });
      await memberHub.invoke('editMessage', { messageId: message.id, text: 'changed' });
      assert.equal((await uploadAttachment(server, room.id, member.token)).status, 201);
      await newcomerHub.invoke('acceptInvite', invite.token);
    } finally {
      await server.close();
    }
  });
}
