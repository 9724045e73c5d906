// Attachments over HTTP and the hub, on SQLite and on PostgreSQL: who may upload and fetch, the
// limits (size, bytes per day), bad input (path separators in names, a declared type that lies, an
// upload cut halfway), files travelling with messages and leaving with them, the sweep of uploads
// no message took, and (PostgreSQL) a file uploaded on one node served by another. PostgreSQL
// tests skip loudly without it (fail under CI=true).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { requireService } from '@switchboard/testkit';
import pg from 'pg';
import { type ChatTestServer, cid, record, startChat, type Wire, waitCount } from './helpers.ts';
import { DATABASE_URL } from './process-cluster.ts';
import {
  blobFiles,
  download,
  multipart,
  rawUpload,
  sendMultipart,
  uploadAttachment as upload,
} from './uploads.ts';

/** The 8 bytes every PNG starts with, and a few more. */
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('0000000dIHDR-not-a-full-image'),
]);

type Setup = (t: TestContext, env?: Record<string, string>) => Promise<ChatTestServer | undefined>;

const storages: { name: string; setup: Setup }[] = [
  { name: 'sqlite', setup: async (_t, env = {}) => startChat(env) },
  {
    name: 'postgres',
    setup: async (t, env = {}) => {
      if (!(await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 })))
        return undefined;
      const schema = `chat_files_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
      schemas.push(schema);
      return startChat({ DATABASE_URL, DATABASE_SCHEMA: schema, ...env });
    },
  },
];
const schemas: string[] = [];

test.after(async () => {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

/** Alice owns a room Bob joined; Carol is not in it; a guest neither. */
async function people(server: ChatTestServer) {
  const [alice, bob, carol, guest] = [
    await server.register('alice'),
    await server.register('bob'),
    await server.register('carol'),
    await server.guest('Gus'),
  ];
  const aliceHub = await server.connect(alice.token);
  const bobHub = await server.connect(bob.token);
  const room = await aliceHub.invoke('createRoom', { name: `files ${cid()}`, isPrivate: false });
  await bobHub.invoke('joinRoom', room.id);
  return { alice, bob, carol, guest, aliceHub, bobHub, room };
}

for (const { name, setup } of storages) {
  test(`${name}: a member uploads, the file travels with a message, members fetch it, others are refused`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const { alice, bob, carol, guest, aliceHub, bobHub, room } = await people(server);
      const bobEvents = record(bobHub);

      const image = await upload(server, room.id, alice.token, 'cat.png', 'image/png', PNG);
      assert.equal(image.status, 201, JSON.stringify(image.body));
      assert.equal(image.body.attachment.image, true);
      assert.equal(image.body.attachment.contentType, 'image/png');
      assert.equal(image.body.attachment.url, `/api/attachments/${image.body.attachment.id}`);
      const pdfBytes = Buffer.from('%PDF-1.4 a report');
      const pdf = await upload(server, room.id, alice.token, 'report é.pdf', 'application/pdf', pdfBytes);
      assert.equal(pdf.status, 201);
      assert.deepEqual(
        [pdf.body.attachment.name, pdf.body.attachment.size, pdf.body.attachment.image],
        ['report é.pdf', pdfBytes.length, false],
      );

      // Before a message takes them, only the uploader sees them.
      assert.equal((await download(server, pdf.body.attachment.url, bob.token)).status, 404);
      assert.equal((await download(server, pdf.body.attachment.url, alice.token)).status, 200);

      // A caption is optional; the files come in the order given.
      const sent = await aliceHub.invoke('sendMessage', {
        roomId: room.id,
        text: '',
        clientMessageId: cid(),
        attachmentIds: [image.body.attachment.id, pdf.body.attachment.id],
      });
      assert.deepEqual(
        sent.attachments.map((a: Wire) => a.name),
        ['cat.png', 'report é.pdf'],
      );
      await waitCount(bobEvents.messageReceived!, 1);
      assert.deepEqual(bobEvents.messageReceived![0].attachments, sent.attachments);
      const page = await bobHub.invoke('getMessages', { roomId: room.id });
      assert.deepEqual(page.messages.at(-1).attachments, sent.attachments);

      const png = await download(server, image.body.attachment.url, bob.token);
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.match(png.headers.get('content-disposition')!, /^inline; filename="cat.png"/);
      assert.equal(png.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(png.data, PNG);
      const doc = await download(server, pdf.body.attachment.url, bob.token);
      assert.equal(doc.status, 200);
      assert.equal(doc.headers.get('content-type'), 'application/octet-stream');
      assert.equal(
        doc.headers.get('content-disposition'),
        `attachment; filename="report _.pdf"; filename*=UTF-8''report%20%C3%A9.pdf`,
      );
      assert.equal(doc.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(doc.data, pdfBytes);

      // Not a member, a guest, no token: refused, with the URL in hand.
      assert.equal((await download(server, pdf.body.attachment.url, carol.token)).status, 403);
      assert.equal((await download(server, pdf.body.attachment.url, guest.token)).status, 403);
      assert.equal((await download(server, pdf.body.attachment.url)).status, 401);
      const carolUp = await upload(server, room.id, carol.token, 'x.txt', 'text/plain', Buffer.from('x'));
      assert.deepEqual([carolUp.status, carolUp.body.error.code], [403, 'SB_CHAT_FORBIDDEN']);
      const guestUp = await upload(server, room.id, guest.token, 'x.txt', 'text/plain', Buffer.from('x'));
      assert.deepEqual([guestUp.status, guestUp.body.error.code], [403, 'SB_CHAT_FORBIDDEN']);
      assert.equal(
        (await upload(server, room.id, undefined, 'x.txt', 'text/plain', Buffer.from('x'))).status,
        401,
      );

      // Another member's upload is not Bob's to send; a file travels with one message only.
      const bobFile = await upload(server, room.id, bob.token, 'b.txt', 'text/plain', Buffer.from('b'));
      await assert.rejects(
        aliceHub.invoke('sendMessage', {
          roomId: room.id,
          text: 'steal',
          clientMessageId: cid(),
          attachmentIds: [bobFile.body.attachment.id],
        }),
        /SB_CHAT_INVALID_INPUT: attachmentIds/,
      );
      await assert.rejects(
        aliceHub.invoke('sendMessage', {
          roomId: room.id,
          text: 'again',
          clientMessageId: cid(),
          attachmentIds: [pdf.body.attachment.id],
        }),
        /SB_CHAT_INVALID_INPUT: attachmentIds/,
      );

      // A deleted message's files are gone: rows and bytes.
      await aliceHub.invoke('deleteMessage', { messageId: sent.id });
      assert.equal((await download(server, image.body.attachment.url, alice.token)).status, 404);
      assert.equal((await download(server, pdf.body.attachment.url, bob.token)).status, 404);
      assert.equal(await server.app.storage.attachmentById(pdf.body.attachment.id), undefined);
      if (name === 'sqlite') assert.deepEqual(blobFiles(server), [bobFile.body.attachment.id]);
      const after = await bobHub.invoke('getMessages', { roomId: room.id });
      assert.equal(after.messages.at(-1).attachments, undefined);
    } finally {
      await server.close();
    }
  });

  test(`${name}: a message's files keep the order the sender gave, not the order of their uploads`, async (t) => {
    const server = await setup(t);
    if (!server) return;
    try {
      const { alice, aliceHub, bobHub, room } = await people(server);
      const bobEvents = record(bobHub);
      const first = await upload(server, room.id, alice.token, 'first.txt', 'text/plain', Buffer.from('1'));
      // Uploaded a few milliseconds apart, so that upload order alone would list `first` first.
      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = await upload(server, room.id, alice.token, 'second.png', 'image/png', PNG);
      const third = await upload(server, room.id, alice.token, 'third.txt', 'text/plain', Buffer.from('3'));
      const given = [second, third, first].map((u) => u.body.attachment.id as string);
      const sent = await aliceHub.invoke('sendMessage', {
        roomId: room.id,
        text: 'in my order',
        clientMessageId: cid(),
        attachmentIds: given,
      });
      const names = (attachments: Wire[]) => attachments.map((a) => a.name);
      assert.deepEqual(names(sent.attachments), ['second.png', 'third.txt', 'first.txt']);
      await waitCount(bobEvents.messageReceived!, 1);
      assert.deepEqual(names(bobEvents.messageReceived![0].attachments), names(sent.attachments));
      const page = await bobHub.invoke('getMessages', { roomId: room.id });
      assert.deepEqual(names(page.messages.at(-1).attachments), names(sent.attachments));
    } finally {
      await server.close();
    }
  });

  test(`${name}: limits and bad input are refused with nothing stored`, async (t) => {
    const server = await setup(t, { MAX_ATTACHMENT_BYTES: '2000', MAX_ATTACHMENT_BYTES_PER_DAY: '5000' });
    if (!server) return;
    try {
      const { alice, room } = await people(server);
      const used = () => server.app.storage.attachmentBytesSince(alice.user.id, '1970-01-01T00:00:00.000Z');
      const attachments = `/api/rooms/${room.id}/attachments`;

      // Oversized: refused from its Content-Length, and (sent in chunks, no length) while reading.
      const big = await upload(
        server,
        room.id,
        alice.token,
        'big.bin',
        'application/zip',
        Buffer.alloc(70_000),
      );
      assert.deepEqual([big.status, big.body.error.code], [413, 'SB_CHAT_ATTACHMENT_TOO_LARGE']);
      const chunked = await rawUpload(
        server,
        'POST',
        attachments,
        alice.token,
        multipart('big.bin', 'application/zip', Buffer.alloc(2001)),
      );
      assert.equal(chunked, 413);
      // Names with a path separator, a second file, no file part, not multipart.
      for (const bad of ['../../etc/passwd', 'a\\b.txt', 'dir/x.png']) {
        const r = await upload(server, room.id, alice.token, bad, 'text/plain', Buffer.from('x'));
        assert.deepEqual(
          [r.status, r.body.error.code, r.body.error.field],
          [400, 'SB_CHAT_INVALID_INPUT', 'name'],
        );
      }
      const wrongField = multipart('a.txt', 'text/plain', Buffer.from('x'), 'other');
      const noFile = await sendMultipart(server, 'POST', attachments, alice.token, wrongField);
      assert.equal(noFile.status, 400);
      const json = await server.post(attachments, { file: 'x' }, alice.token);
      assert.deepEqual([json.status, json.body.error.code], [400, 'SB_CHAT_INVALID_INPUT']);

      // An upload cut halfway leaves nothing.
      const part = multipart('half.bin', 'application/octet-stream', Buffer.alloc(1500, 7));
      assert.equal(await rawUpload(server, 'POST', attachments, alice.token, part, 800), 'cut');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await used(), 0);
      if (name === 'sqlite') assert.deepEqual(blobFiles(server), []);

      // A declared type that lies is kept as a download, never inline; SVG is never an image.
      const liar = await upload(
        server,
        room.id,
        alice.token,
        'x.png',
        'image/png',
        Buffer.from('<script>1</script>'),
      );
      assert.deepEqual(
        [liar.body.attachment.contentType, liar.body.attachment.image],
        ['application/octet-stream', false],
      );
      const svg = await upload(server, room.id, alice.token, 'x.svg', 'image/svg+xml', Buffer.from('<svg/>'));
      assert.deepEqual(
        [svg.body.attachment.contentType, svg.body.attachment.image],
        ['application/octet-stream', false],
      );
      for (const file of [liar, svg]) {
        const got = await download(server, file.body.attachment.url, alice.token);
        assert.equal(got.headers.get('content-type'), 'application/octet-stream');
        assert.match(got.headers.get('content-disposition')!, /^attachment;/);
        assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
      }

      // The day's quota: 5,000 bytes; what was refused above does not count.
      const before = await used();
      assert.equal(
        (await upload(server, room.id, alice.token, 'a', 'text/plain', Buffer.alloc(2000))).status,
        201,
      );
      assert.equal(
        (await upload(server, room.id, alice.token, 'b', 'text/plain', Buffer.alloc(2000))).status,
        201,
      );
      const over = await upload(server, room.id, alice.token, 'c', 'text/plain', Buffer.alloc(2000));
      assert.deepEqual([over.status, over.body.error.code], [413, 'SB_CHAT_ATTACHMENT_QUOTA']);
      assert.equal(await used(), before + 4000);

      // Uploads no message took are swept after a day, not before.
      assert.equal(await server.app.attachments.sweep(Date.now()), 0);
      const swept = await server.app.attachments.sweep(Date.now() + 25 * 3600_000);
      assert.equal(swept, 4);
      assert.equal(await used(), 0);
      if (name === 'sqlite') assert.deepEqual(blobFiles(server), []);
    } finally {
      await server.close();
    }
  });
}

test('postgres: a file uploaded on one node is served by another (bytes in the database)', async (t) => {
  const a = await storages[1]!.setup(t, { NODE_ID: 'files-a' });
  if (!a) return;
  const schema = schemas.at(-1)!;
  const b = await startChat({ DATABASE_URL, DATABASE_SCHEMA: schema, NODE_ID: 'files-b' });
  try {
    const { alice, bob, carol, room } = await people(a);
    const up = await upload(a, room.id, alice.token, 'cat.png', 'image/png', PNG);
    await (await a.connect(alice.token)).invoke('sendMessage', {
      roomId: room.id,
      text: 'look',
      clientMessageId: cid(),
      attachmentIds: [up.body.attachment.id],
    });
    const onB = await download(b, up.body.attachment.url, bob.token);
    assert.equal(onB.status, 200);
    assert.deepEqual(onB.data, PNG);
    assert.equal((await download(b, up.body.attachment.url, carol.token)).status, 403);
  } finally {
    await b.close();
    await a.close();
  }
});
