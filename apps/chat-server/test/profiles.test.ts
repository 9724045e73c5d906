// Profiles on SQLite and on PostgreSQL: a user changes their own display name and avatar (never
// another user's; guests neither), every change reaches the people who share a room with them
// live, the avatar is served to signed-in users only as a checked raster image (a type that lies,
// SVG, an oversized file refused with nothing stored), "away" in presence, and signing out
// everywhere ends every token and connection of the user. Across two nodes with a backplane: an
// avatar uploaded on one node is served by the other, its change reaches a client on the other,
// and signing out everywhere ends the user's connections on both. PostgreSQL and the backplane
// skip loudly without their services (fail under CI=true).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { MAX_AVATAR_BYTES } from '@switchboard/chat-contract';
import { requireService } from '@switchboard/testkit';
import pg from 'pg';
import { chatBackplanes } from './backplanes.ts';
import { type ChatTestServer, cid, startChat, type Wire, waitCount } from './helpers.ts';
import { DATABASE_URL } from './process-cluster.ts';
import { withTwoNodes } from './two-nodes.ts';
import { blobFiles, download, multipart, putAvatar, rawUpload, uploadAttachment } from './uploads.ts';

/** The bytes a PNG starts with, and a few more. */
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('0000000dIHDR-avatar'),
]);
const GIF = Buffer.from('GIF89a-a-small-avatar');
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

async function call(
  server: ChatTestServer,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{ status: number; body: Wire }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Every `userUpdated` a connection receives. */
function userUpdates(connection: HubConnection): Wire[] {
  const list: Wire[] = [];
  connection.on('userUpdated', (event: Wire) => list.push(event));
  return list;
}

/** Resolves when the connection closes. */
function closed(connection: HubConnection): Promise<Error | undefined> {
  return new Promise((resolve) => connection.onclose((error) => resolve(error)));
}

type Setup = (t: TestContext) => Promise<ChatTestServer | undefined>;
const schemas: string[] = [];

const storages: { name: string; setup: Setup }[] = [
  { name: 'sqlite', setup: async () => startChat() },
  {
    name: 'postgres',
    setup: async (t) => {
      if (!(await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 })))
        return undefined;
      const schema = `pplh_profiles_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
      schemas.push(schema);
      return startChat({ DATABASE_URL, DATABASE_SCHEMA: schema });
    },
  },
];

test.after(async () => {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

for (const { name, setup } of storages) {
  test(`${name}: display name and avatar, only one's own, live to contacts, served checked`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const [alice, bob, carol, guest] = [
        await server.register('alice'),
        await server.register('bob'),
        await server.register('carol'),
        await server.guest('Gus'),
      ];
      const aliceHub = await server.connect(alice.token);
      const bobHub = await server.connect(bob.token);
      const carolHub = await server.connect(carol.token);
      const room = await aliceHub.invoke('createRoom', { name: `people ${cid()}`, isPrivate: false });
      await bobHub.invoke('joinRoom', room.id);
      const [toBob, toCarol, toAlice] = [userUpdates(bobHub), userUpdates(carolHub), userUpdates(aliceHub)];

      // The display name: one's own, checked, live to the people sharing a room and one's devices.
      const renamed = await call(server, 'PATCH', `/api/users/${alice.user.id}`, alice.token, {
        displayName: '  Alice Liddell ',
      });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.equal(renamed.body.user.displayName, 'Alice Liddell');
      await waitCount(toBob, 1, 'userUpdated at bob');
      await waitCount(toAlice, 1, 'userUpdated at alice');
      assert.equal(toBob[0].user.displayName, 'Alice Liddell');
      assert.equal(toBob[0].user.id, alice.user.id);
      const members = await bobHub.invoke('listRoomMembers', room.id);
      assert.equal(members.find((u: Wire) => u.id === alice.user.id).displayName, 'Alice Liddell');
      assert.equal(
        (await call(server, 'GET', '/api/me', alice.token)).body.user.displayName,
        'Alice Liddell',
      );

      // Not another's; not a guest's; not a bad name.
      const other = await call(server, 'PATCH', `/api/users/${alice.user.id}`, bob.token, {
        displayName: 'Mallory',
      });
      assert.equal(other.status, 403);
      assert.equal(other.body.error.code, 'SB_CHAT_FORBIDDEN');
      assert.equal(
        (await call(server, 'PATCH', `/api/users/${guest.user.id}`, guest.token, { displayName: 'G' }))
          .status,
        403,
      );
      assert.equal(
        (await call(server, 'PATCH', `/api/users/${alice.user.id}`, undefined, { displayName: 'A' })).status,
        401,
      );
      const hidden = await call(server, 'PATCH', `/api/users/${alice.user.id}`, alice.token, {
        displayName: 'Al\u202eice',
      });
      assert.deepEqual([hidden.status, hidden.body.error.code], [400, 'SB_CHAT_INVALID_NAME']);
      const empty = await call(server, 'PATCH', `/api/users/${alice.user.id}`, alice.token, {
        displayName: '   ',
      });
      assert.deepEqual([empty.status, empty.body.error.field], [400, 'displayName']);
      const long = await call(server, 'PATCH', `/api/users/${alice.user.id}`, alice.token, {
        displayName: 'x'.repeat(65),
      });
      assert.equal(long.status, 400);

      // The avatar: one's own, a checked raster image.
      const up = await putAvatar(server, alice.user.id, alice.token, 'image/png', PNG);
      assert.equal(up.status, 200, JSON.stringify(up.body));
      const url: string = up.body.user.avatarUrl;
      assert.match(url, /^\/api\/avatars\/[0-9a-f-]{36}$/);
      await waitCount(toBob, 2, 'the avatar at bob');
      assert.equal(toBob[1].user.avatarUrl, url);
      const served = await download(server, url, bob.token);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(served.data, PNG);
      // Any signed-in user may see it (it shows wherever the name does); without a token, no.
      assert.equal((await download(server, url, carol.token)).status, 200);
      assert.equal((await download(server, url)).status, 401);
      const users = await bobHub.invoke('getUsers', [alice.user.id]);
      assert.equal(users[0].avatarUrl, url);
      // Carol shares no room with Alice: her profile changes do not reach Carol.
      assert.equal(toCarol.length, 0);

      // Refused, nothing stored, the avatar unchanged: another's, a guest, a lying type, SVG, too big.
      const blobsBefore = name === 'sqlite' ? blobFiles(server, 'stored') : [];
      const refusals: [string, { status: number; body: Wire }, number, string][] = [
        [
          'another user',
          await putAvatar(server, alice.user.id, bob.token, 'image/png', PNG),
          403,
          'SB_CHAT_FORBIDDEN',
        ],
        [
          'a guest',
          await putAvatar(server, guest.user.id, guest.token, 'image/png', PNG),
          403,
          'SB_CHAT_FORBIDDEN',
        ],
        [
          'a type that lies',
          await putAvatar(server, alice.user.id, alice.token, 'image/png', Buffer.from('not a png at all')),
          400,
          'SB_CHAT_AVATAR_NOT_IMAGE',
        ],
        [
          'a GIF declared as PNG',
          await putAvatar(server, alice.user.id, alice.token, 'image/png', GIF),
          400,
          'SB_CHAT_AVATAR_NOT_IMAGE',
        ],
        [
          'SVG',
          await putAvatar(server, alice.user.id, alice.token, 'image/svg+xml', SVG, 'me.svg'),
          400,
          'SB_CHAT_AVATAR_NOT_IMAGE',
        ],
        [
          'too big',
          await putAvatar(
            server,
            alice.user.id,
            alice.token,
            'image/png',
            Buffer.concat([PNG, Buffer.alloc(MAX_AVATAR_BYTES + 1 - PNG.length)]),
          ),
          413,
          'SB_CHAT_ATTACHMENT_TOO_LARGE',
        ],
        [
          'no token',
          await putAvatar(server, alice.user.id, undefined, 'image/png', PNG),
          401,
          'SB_CHAT_BAD_CREDENTIALS',
        ],
      ];
      for (const [what, r, status, code] of refusals) {
        assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, what);
      }
      // An upload cut off halfway: nothing stored either.
      const part = multipart('me.png', 'image/png', Buffer.concat([PNG, Buffer.alloc(200_000)]));
      const path = `/api/users/${alice.user.id}/avatar`;
      assert.equal(await rawUpload(server, 'PUT', path, alice.token, part, 100_000), 'cut');
      if (name === 'sqlite') assert.deepEqual(blobFiles(server, 'stored'), blobsBefore);
      assert.equal((await call(server, 'GET', '/api/me', alice.token)).body.user.avatarUrl, url);
      // A file of exactly the limit is taken.
      const exact = Buffer.concat([PNG, Buffer.alloc(MAX_AVATAR_BYTES - PNG.length)]);
      const big = await putAvatar(server, alice.user.id, alice.token, 'image/png', exact);
      assert.equal(big.status, 200);

      // The avatar route serves avatars only: never an attachment, whatever its id.
      const attached = await uploadAttachment(server, room.id, alice.token, 'cat.png', 'image/png', PNG);
      assert.equal(attached.status, 201);
      const attachment: string = attached.body.attachment.id;
      assert.equal((await download(server, `/api/avatars/${attachment}`, bob.token)).status, 404);

      // A new avatar replaces the old: the old URL is gone (and its bytes).
      const gif = await putAvatar(server, alice.user.id, alice.token, 'image/gif', GIF, 'me.gif');
      assert.equal(gif.status, 200);
      assert.equal((await download(server, big.body.user.avatarUrl, bob.token)).status, 404);
      const gifServed = await download(server, gif.body.user.avatarUrl, bob.token);
      assert.equal(gifServed.headers.get('content-type'), 'image/gif');
      // Back to initials.
      const removed = await call(server, 'DELETE', `/api/users/${alice.user.id}/avatar`, alice.token);
      assert.equal(removed.status, 200);
      assert.equal(removed.body.user.avatarUrl, undefined);
      assert.equal((await download(server, gif.body.user.avatarUrl, bob.token)).status, 404);
      assert.equal(
        (await call(server, 'DELETE', `/api/users/${alice.user.id}/avatar`, bob.token)).status,
        403,
      );
      // Only the attachment's bytes are left: every avatar's went with it.
      if (name === 'sqlite') assert.deepEqual(blobFiles(server, 'stored'), [attachment]);
      await waitCount(toBob, 5, 'every change at bob');
      assert.equal(toBob.at(-1).user.avatarUrl, undefined);
    } finally {
      await server.close();
    }
  });

  test(`${name}: away in presence; sign out everywhere ends every token and connection`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const alice = await server.register('alice');
      const bob = await server.register('bob');
      const second = await server.post('/api/auth/login', {
        username: alice.user.username,
        password: 'password123',
      });
      const aliceHub = await server.connect(alice.token);
      const aliceHub2 = await server.connect(second.body.token);
      const bobHub = await server.connect(bob.token);
      const room = await aliceHub.invoke('createRoom', { name: `away ${cid()}`, isPrivate: false });
      await bobHub.invoke('joinRoom', room.id);
      const presence: Wire[] = [];
      bobHub.on('presenceChanged', (p: Wire) => presence.push(p));

      const away = await aliceHub.invoke('setAway', { away: true });
      assert.deepEqual([away.online, away.status], [true, 'away']);
      await waitFor(
        () => presence.some((p) => p.userId === alice.user.id && p.status === 'away'),
        'away at bob',
      );
      const [seen] = await bobHub.invoke('getPresence', [alice.user.id]);
      assert.equal(seen.status, 'away');
      await assert.rejects(aliceHub.invoke('setAway', { away: 'yes' }), /SB_CHAT_INVALID_INPUT/);
      await aliceHub.invoke('setAway', { away: false });
      assert.equal((await bobHub.invoke('getPresence', [alice.user.id]))[0].status, 'online');

      // Sign out everywhere: both of Alice's tokens stop, both connections end; Bob stays.
      const ends = [closed(aliceHub), closed(aliceHub2)];
      assert.equal((await server.post('/api/auth/logout-everywhere', undefined, alice.token)).status, 204);
      await Promise.all(ends);
      assert.equal((await call(server, 'GET', '/api/me', alice.token)).status, 401);
      assert.equal((await call(server, 'GET', '/api/me', second.body.token)).status, 401);
      assert.equal((await server.post('/api/auth/refresh', undefined, second.body.token)).status, 401);
      assert.equal((await server.post('/api/auth/logout-everywhere', undefined, alice.token)).status, 401);
      assert.equal((await call(server, 'GET', '/api/me', bob.token)).status, 200);
      assert.equal((await bobHub.invoke('listRooms')).length, 1);
      // Signing in again works.
      const again = await server.post('/api/auth/login', {
        username: alice.user.username,
        password: 'password123',
      });
      assert.equal(again.status, 200);
    } finally {
      await server.close();
    }
  });
}

for (const backplane of chatBackplanes) {
  test(`two nodes on the ${backplane.name} backplane: an avatar set on one is served and announced by the other; sign out everywhere ends both`, (t) =>
    withTwoNodes(
      t,
      backplane,
      { name: 'pplh', nodeIds: ['pplh-a', 'pplh-b'], env: { BACKPLANE_LAG_PROBE_MS: '0' } },
      async ({ a, b }) => {
        const alice = await a.register('alice');
        const bob = await b.register('bob');
        const aliceOnA = await a.connect(alice.token);
        const aliceOnB = await b.connect(alice.token);
        const bobOnB = await b.connect(bob.token);
        const room = await aliceOnA.invoke('createRoom', { name: `nodes ${cid()}`, isPrivate: false });
        await bobOnB.invoke('joinRoom', room.id);
        const toBob = userUpdates(bobOnB);

        const up = await putAvatar(a, alice.user.id, alice.token, 'image/png', PNG);
        assert.equal(up.status, 200);
        await waitCount(toBob, 1, 'userUpdated on the other node');
        assert.equal(toBob[0].user.avatarUrl, up.body.user.avatarUrl);
        const onB = await download(b, up.body.user.avatarUrl, bob.token);
        assert.equal(onB.status, 200);
        assert.deepEqual(onB.data, PNG);

        const ends = [closed(aliceOnA), closed(aliceOnB)];
        assert.equal((await a.post('/api/auth/logout-everywhere', undefined, alice.token)).status, 204);
        await Promise.all(ends);
        assert.equal((await call(b, 'GET', '/api/me', alice.token)).status, 401);
      },
    ));
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
