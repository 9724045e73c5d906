// Room settings over the hub, on SQLite and on PostgreSQL: the owner (or an admin) renames a room,
// sets its topic, makes it private and archives it (read-only, out of the public list) and
// restores it; members hear every change; a member who is not the owner, a non-member and a guest
// are refused; a name clash is refused clearly. PostgreSQL skips loudly without it.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { requireService, waitFor } from '@switchboard/testkit';
import pg from 'pg';
import { type ChatTestServer, cid, record, startChat, type Wire } from './helpers.ts';
import { DATABASE_URL } from './process-cluster.ts';

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
      const schema = `chat_rooms_${process.pid}_${Date.now()}`;
      schemas.push(schema);
      return startChat({ DATABASE_URL, DATABASE_SCHEMA: schema });
    },
  },
];

for (const { name, setup } of storages) {
  test(`${name}: the owner or an admin changes a room's settings; members hear it; others are refused`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const [owner, member, outsider, guest, admin] = [
        await server.register('owner'),
        await server.register('member'),
        await server.register('outsider'),
        await server.guest('Gus'),
        await server.register('admin'),
      ];
      await server.app.accounts.setRole(admin.user.username, 'admin');
      const adminLogin = await server.post('/api/auth/login', {
        username: admin.user.username,
        password: 'password123',
      });
      const ownerHub = await server.connect(owner.token);
      const memberHub = await server.connect(member.token);
      const outsiderHub = await server.connect(outsider.token);
      const guestHub = await server.connect(guest.token);
      const adminHub = await server.connect(adminLogin.body.token);
      const events = record(memberHub);
      const room = await ownerHub.invoke('createRoom', { name: `settings ${cid()}`, isPrivate: false });
      await memberHub.invoke('joinRoom', room.id);
      const taken = await ownerHub.invoke('createRoom', { name: `taken ${cid()}`, isPrivate: false });

      const renamed = `renamed ${cid()}`;
      const updated = await ownerHub.invoke('updateRoom', { roomId: room.id, name: renamed, topic: 'Plans' });
      assert.deepEqual([updated.name, updated.topic, updated.archived], [renamed, 'Plans', false]);
      await waitFor(
        () => events.roomUpdated!.some((e: Wire) => e.change === 'updated'),
        10_000,
        'roomUpdated updated',
      );
      const heard = events.roomUpdated!.find((e: Wire) => e.change === 'updated');
      assert.deepEqual([heard.room.name, heard.room.topic, heard.userId], [renamed, 'Plans', owner.user.id]);
      const listed = (await memberHub.invoke('listRooms')).find((r: Wire) => r.id === room.id);
      assert.deepEqual([listed.name, listed.topic], [renamed, 'Plans']);

      for (const [who, hub] of [
        ['member', memberHub],
        ['outsider', outsiderHub],
        ['guest', guestHub],
      ] as const) {
        await assert.rejects(
          hub.invoke('updateRoom', { roomId: room.id, topic: 'mine' }),
          /SB_CHAT_FORBIDDEN/,
          who,
        );
      }
      await assert.rejects(
        ownerHub.invoke('updateRoom', { roomId: room.id, name: taken.name }),
        /SB_CHAT_ROOM_NAME_TAKEN/,
      );
      await assert.rejects(ownerHub.invoke('updateRoom', { roomId: room.id }), /SB_CHAT_INVALID_INPUT/);
      await assert.rejects(
        ownerHub.invoke('updateRoom', { roomId: room.id, topic: 'x'.repeat(251) }),
        /SB_CHAT_INVALID_INPUT: topic/,
      );

      // Archived: read-only, out of the public list; an admin restores it.
      const publicIds = async () => (await outsiderHub.invoke('listPublicRooms')).map((r: Wire) => r.id);
      assert.ok((await publicIds()).includes(room.id));
      await ownerHub.invoke('updateRoom', { roomId: room.id, archived: true });
      assert.ok(!(await publicIds()).includes(room.id));
      await assert.rejects(
        memberHub.invoke('sendMessage', { roomId: room.id, text: 'hello?', clientMessageId: cid() }),
        /SB_CHAT_ROOM_ARCHIVED: This room is archived/,
      );
      const restored = await adminHub.invoke('updateRoom', { roomId: room.id, archived: false });
      assert.equal(restored.archived, false);
      assert.ok((await publicIds()).includes(room.id));
      await memberHub.invoke('sendMessage', { roomId: room.id, text: 'back', clientMessageId: cid() });

      // Private: out of the public list too.
      await ownerHub.invoke('updateRoom', { roomId: room.id, isPrivate: true });
      assert.ok(!(await publicIds()).includes(room.id));
    } finally {
      await server.close();
    }
  });
}
