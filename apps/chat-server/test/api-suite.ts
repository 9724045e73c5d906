/**
 * The server API (issue #15), on one storage: every request and answer is checked against the
 * OpenAPI document the server serves (with a JSON Schema 2020-12 validator), and every route of
 * the document is exercised; API keys are revoked at once; bad bodies are refused naming the
 * field; clientMessageId is idempotent; what the API does reaches connected clients live.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hostUserId } from '@switchboard/chat-server';
import { waitFor } from '@switchboard/testkit';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Wire } from './helpers.ts';
import { record } from './helpers.ts';
import { type HostChat, type StorageKind, signToken, startHostChat } from './host-helpers.ts';

const ISSUER = 'https://hsth-api.example.test';
const SECRET = 'hsth-api-secret-0123456789-abcdefghij';

/** The suite, skipped (by `available`) when its storage is absent. */
export function serverApiSuite(kind: StorageKind, available: () => boolean): void {
  describe(`server API on ${kind}`, () => {
    let chat: HostChat;
    let key: string;
    let doc: Wire;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const exercised = new Set<string>();

    /** The document's operation for a concrete path. */
    const operation = (method: string, path: string): { template: string; op: Wire } => {
      for (const [template, ops] of Object.entries(doc.paths as Record<string, Wire>)) {
        const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
        if (pattern.test(path) && ops[method.toLowerCase()])
          return { template, op: ops[method.toLowerCase()] };
      }
      throw new Error(`${method} ${path} is not in the OpenAPI document`);
    };
    const check = (schema: Wire, value: unknown, what: string) => {
      const validate = ajv.compile(schema);
      assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value)}`);
    };

    /** Calls the API and checks the request and the answer against the document. */
    const api = async (
      method: string,
      path: string,
      body?: unknown,
      options: { key?: string | null; rawBody?: string; validRequest?: boolean } = {},
    ): Promise<{ status: number; body: Wire }> => {
      const [pathOnly] = path.split('?');
      const { template, op } = operation(method, pathOnly!);
      if (body !== undefined && options.validRequest !== false) {
        check(op.requestBody.content['application/json'].schema, body, `request of ${method} ${template}`);
      }
      const auth: Record<string, string> =
        options.key === null ? {} : { Authorization: `Bearer ${options.key ?? key}` };
      const response = await fetch(`${chat.url}/api/v1${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', ...auth },
        ...(options.rawBody !== undefined
          ? { body: options.rawBody }
          : body !== undefined
            ? { body: JSON.stringify(body) }
            : {}),
      });
      const text = await response.text();
      const answer = text ? JSON.parse(text) : undefined;
      const documented = op.responses[String(response.status)];
      assert.ok(
        documented,
        `${method} ${template} answered ${response.status}, not in the document: ${text}`,
      );
      const schema = documented.content?.['application/json']?.schema;
      if (schema) check(schema, answer, `answer ${response.status} of ${method} ${template}`);
      else assert.equal(text, '', `${response.status} of ${method} ${template} has no body`);
      if (response.status < 300) exercised.add(`${method} ${template}`);
      return { status: response.status, body: answer };
    };
    const token = (sub: string, name: string) =>
      signToken({ secret: SECRET }, { sub, name }, { issuer: ISSUER });

    before(async () => {
      if (!available()) return;
      chat = await startHostChat(kind, { AUTH_ISSUER: ISSUER, AUTH_HS256_SECRET: SECRET });
      key = await chat.apiKey('hsth-backend');
      doc = await (await fetch(`${chat.url}/api/v1/openapi.json`)).json();
    });
    after(() => chat?.close());

    test('the document is OpenAPI 3.1, generated for every route', async (t) => {
      if (!available()) return t.skip('storage absent');
      assert.equal(doc.openapi, '3.1.0');
      assert.deepEqual(Object.keys(doc.paths).sort(), [
        '/messages/{id}',
        '/rooms',
        '/rooms/{id}',
        '/rooms/{id}/members',
        '/rooms/{id}/members/{userId}',
        '/rooms/{id}/messages',
        '/support/requests',
        '/users/{id}',
        '/users/{id}/disconnect',
      ]);
      const history = doc.paths['/rooms/{id}/messages'].get.parameters;
      assert.deepEqual(history.find((p: Wire) => p.name === 'limit').schema, {
        type: 'integer',
        minimum: 1,
        maximum: 200,
        default: 50,
      });
    });

    test('users, rooms, members and messages; everything reaches connected clients live', async (t) => {
      if (!available()) return t.skip('storage absent');
      const ann = await api('PUT', '/users/hsth-ann', {
        displayName: 'Ann',
        role: 'user',
        avatarUrl: 'https://img.example/a.png',
      });
      assert.equal(ann.status, 201);
      assert.deepEqual(ann.body.user, {
        id: 'hsth-ann',
        chatUserId: hostUserId(ISSUER, 'hsth-ann'),
        displayName: 'Ann',
        role: 'user',
        avatarUrl: 'https://img.example/a.png',
      });
      assert.equal((await api('PUT', '/users/hsth-ann', { displayName: 'Ann A' })).status, 200);
      await api('PUT', '/users/hsth-bob', { displayName: 'Bob' });
      await api('PUT', '/users/hsth-cy', { displayName: 'Cy' });

      // Ann is connected (with a host token) before the room exists.
      const annClient = await chat.connect(await token('hsth-ann', 'Ann A'));
      const annEvents = record(annClient);
      const created = await api('POST', '/rooms', {
        name: `hsth ${kind} ${Date.now()}`,
        private: true,
        members: ['hsth-ann', 'hsth-bob'],
      });
      assert.equal(created.status, 201);
      const roomId = created.body.room.id;
      assert.deepEqual(created.body.members.map((m: Wire) => m.id).sort(), ['hsth-ann', 'hsth-bob']);
      await waitFor(
        () => annEvents.roomUpdated!.some((e) => e.room.id === roomId && e.change === 'joined'),
        5_000,
        'joined',
      );

      const got = await api('GET', `/rooms/${roomId}`);
      assert.equal(got.body.room.isPrivate, true);
      assert.equal(got.body.members.find((m: Wire) => m.id === 'hsth-ann').displayName, 'Ann A');

      // A system message, then one as Bob: both live to Ann.
      const system = await api('POST', `/rooms/${roomId}/messages`, { text: 'Welcome!' });
      assert.equal(system.status, 201);
      assert.equal(system.body.message.system, true);
      const asBob = await api('POST', `/rooms/${roomId}/messages`, {
        text: 'hi @ann',
        userId: 'hsth-bob',
        clientMessageId: 'hsth-c1',
      });
      assert.equal(asBob.body.message.userId, 'hsth-bob');
      await waitFor(() => annEvents.messageReceived!.length >= 2, 5_000, 'two messages');
      assert.deepEqual(
        annEvents.messageReceived!.map((m) => m.text),
        ['Welcome!', 'hi @ann'],
      );
      // The same clientMessageId again: the same message, nothing new.
      const again = await api('POST', `/rooms/${roomId}/messages`, {
        text: 'hi @ann',
        userId: 'hsth-bob',
        clientMessageId: 'hsth-c1',
      });
      assert.equal(again.body.message.id, asBob.body.message.id);
      assert.equal(again.body.message.seq, asBob.body.message.seq);

      // History by seq.
      for (let i = 0; i < 3; i++)
        await api('POST', `/rooms/${roomId}/messages`, { text: `m${i}`, clientMessageId: `hsth-m${i}` });
      const all = await api('GET', `/rooms/${roomId}/messages`);
      assert.deepEqual(
        all.body.messages.map((m: Wire) => m.seq),
        [1, 2, 3, 4, 5],
      );
      const page = await api('GET', `/rooms/${roomId}/messages?before=5&limit=2`);
      assert.deepEqual(
        page.body.messages.map((m: Wire) => m.seq),
        [3, 4],
      );
      const afterPage = await api('GET', `/rooms/${roomId}/messages?after=3`);
      assert.deepEqual(
        afterPage.body.messages.map((m: Wire) => m.seq),
        [4, 5],
      );

      // Members: Cy joins, Bob is removed, live.
      assert.equal((await api('POST', `/rooms/${roomId}/members`, { userIds: ['hsth-cy'] })).status, 200);
      await waitFor(
        () =>
          annEvents.roomUpdated!.some(
            (e) => e.change === 'memberJoined' && e.userId === hostUserId(ISSUER, 'hsth-cy'),
          ),
        5_000,
        'Cy joined',
      );
      assert.equal((await api('DELETE', `/rooms/${roomId}/members/hsth-bob`)).status, 204);
      await waitFor(
        () =>
          annEvents.roomUpdated!.some(
            (e) => e.change === 'memberLeft' && e.userId === hostUserId(ISSUER, 'hsth-bob'),
          ),
        5_000,
        'Bob left',
      );
      assert.equal((await api('DELETE', `/rooms/${roomId}/members/hsth-bob`)).status, 404);
      // Bob is no member: posting as him is refused.
      assert.equal(
        (await api('POST', `/rooms/${roomId}/messages`, { text: 'x', userId: 'hsth-bob' })).status,
        403,
      );

      // Deleting a message: gone, live.
      assert.equal((await api('DELETE', `/messages/${system.body.message.id}`)).status, 204);
      await waitFor(
        () => annEvents.messageDeleted!.some((e) => e.messageId === system.body.message.id),
        5_000,
        'deleted',
      );
      assert.equal(
        (await api('GET', `/rooms/${roomId}/messages?limit=1&after=0`)).body.messages[0].deleted,
        true,
      );
      assert.equal((await api('DELETE', '/messages/no-such-message')).status, 404);

      // Disconnect: Ann's connection ends.
      let closed = false;
      annClient.onclose(() => {
        closed = true;
      });
      assert.equal((await api('POST', '/users/hsth-ann/disconnect')).status, 204);
      await waitFor(() => closed, 5_000, "Ann's connection closed");
      assert.equal((await api('POST', '/users/hsth-nobody/disconnect')).status, 404);
    });

    test('support requests by status', async (t) => {
      if (!available()) return t.skip('storage absent');
      const customer = await chat.connect(await token('hsth-cust', 'Customer'));
      const request = await customer.invoke('openSupportRequest', { subject: 'Help', text: 'My order' });
      const open = await api('GET', '/support/requests?status=open');
      assert.ok(open.body.requests.some((r: Wire) => r.id === request.id));
      const queue = await api('GET', '/support/requests');
      assert.ok(queue.body.requests.some((r: Wire) => r.id === request.id));
      const closed = await api('GET', '/support/requests?status=closed');
      assert.ok(!closed.body.requests.some((r: Wire) => r.id === request.id));
      assert.equal((await api('GET', '/support/requests?status=lost')).body.error.field, 'status');
    });

    test('bad bodies and queries are refused clearly: 400 naming the field; unknown members named', async (t) => {
      if (!available()) return t.skip('storage absent');
      const bad = async (method: string, path: string, body: unknown, field: string, raw?: string) => {
        const r = await api(method, path, body, {
          validRequest: false,
          ...(raw !== undefined ? { rawBody: raw } : {}),
        });
        assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'SB_CHAT_INVALID_INPUT');
        assert.equal(r.body.error.field, field);
        return r;
      };
      await bad('POST', '/rooms', { private: true }, 'name');
      await bad('POST', '/rooms', { name: 'x', private: 'yes' }, 'private');
      await bad('POST', '/rooms', { name: 'x', extra: 1 }, 'extra');
      await bad('PUT', '/users/hsth-x', { role: 'overlord' }, 'role');
      await bad('PUT', '/users/hsth-x', { avatarUrl: 'javascript:alert(1)' }, 'avatarUrl');
      await bad('POST', '/rooms', undefined, 'body', '{not json');
      const unknown = await bad(
        'POST',
        '/rooms',
        { name: `hsth u ${Date.now()}`, members: ['hsth-ghost-1', 'hsth-ghost-2'] },
        'members',
      );
      assert.match(unknown.body.error.message, /hsth-ghost-1, hsth-ghost-2/);
      await api('PUT', '/users/hsth-dee', { displayName: 'Dee' });
      const room = await api('POST', '/rooms', { name: `hsth v ${Date.now()}`, members: ['hsth-dee'] });
      const members = await bad(
        'POST',
        `/rooms/${room.body.room.id}/members`,
        { userIds: ['hsth-dee', 'hsth-ghost-3'] },
        'userIds',
      );
      assert.match(members.body.error.message, /hsth-ghost-3/);
      assert.doesNotMatch(members.body.error.message, /hsth-dee/);
      await bad('POST', `/rooms/${room.body.room.id}/messages`, { text: '' }, 'text');
      await bad('POST', `/rooms/${room.body.room.id}/messages`, { text: 3 }, 'text');
      await bad('GET', `/rooms/${room.body.room.id}/messages?limit=201`, undefined, 'limit');
      await bad('GET', `/rooms/${room.body.room.id}/messages?limit=abc`, undefined, 'limit');
      const long = await api('POST', `/rooms/${room.body.room.id}/messages`, { text: 'x'.repeat(4001) });
      assert.deepEqual([long.status, long.body.error.code], [400, 'SB_CHAT_MESSAGE_TOO_LONG']);
      assert.equal((await api('GET', '/rooms/no-such-room')).status, 404);
      const huge = await api('POST', '/rooms', undefined, {
        rawBody: JSON.stringify({ name: 'x'.repeat(20_000) }),
      });
      assert.deepEqual([huge.status, huge.body.error.code], [413, 'SB_CHAT_PAYLOAD_TOO_LARGE']);
    });

    test('API keys: required, and a revoked key stops working at once', async (t) => {
      if (!available()) return t.skip('storage absent');
      const none = await api('GET', '/support/requests', undefined, { key: null });
      assert.deepEqual([none.status, none.body.error.code], [401, 'SB_CHAT_API_KEY_INVALID']);
      const wrong = await api('GET', '/support/requests', undefined, { key: 'sbk_not-a-key' });
      assert.equal(wrong.status, 401);
      // A user's token is not an API key.
      const userToken = await api('GET', '/support/requests', undefined, {
        key: await token('hsth-ann', 'Ann'),
      });
      assert.equal(userToken.status, 401);
      const name = `hsth-revoked-${Date.now()}`;
      const { ApiKeyService } = await import('@switchboard/chat-server');
      const service = new ApiKeyService(chat.app.storage);
      const created = await service.create(name);
      assert.equal((await api('GET', '/support/requests', undefined, { key: created.key })).status, 200);
      const listed = (await service.list()).find((k) => k.name === name);
      assert.ok(listed && created.key.startsWith(listed.prefix) && listed.lastUsedAt !== null);
      assert.ok(
        !JSON.stringify(await service.list()).includes(created.key),
        'the key itself is never listed',
      );
      assert.equal(await service.revoke(name), true);
      assert.equal((await api('GET', '/support/requests', undefined, { key: created.key })).status, 401);
    });

    test('every route of the document was exercised', async (t) => {
      if (!available()) return t.skip('storage absent');
      const all = Object.entries(doc.paths as Record<string, Wire>).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
      );
      assert.deepEqual(
        all.filter((r) => !exercised.has(r)),
        [],
      );
    });
  });
}
