/**
 * The host app's tokens (issue #15), on one storage: RS256 and ES256 through a JWKS the test
 * serves, HS256 by secret, discovery from the issuer; wrong issuer or audience, expired, unknown
 * `kid` (fetched again once, then refused; not again within the cooldown), keys unreachable (503
 * with a code and a log line, never a 401); a host user's name and role change on their next
 * token; the hub through the official client with a host token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hostUserId } from '@switchboard/chat-server';
import { waitFor } from '@switchboard/testkit';
import type { Wire } from './helpers.ts';
import {
  closedPort,
  type HostChat,
  type KeyServer,
  newKey,
  type StorageKind,
  signToken,
  startHostChat,
  startKeyServer,
  type TestKey,
} from './host-helpers.ts';

const ISSUER = 'https://hsth-idp.example.test';
const AUDIENCE = 'hsth-chat';
const SECRET = 'hsth-shared-secret-0123456789-abcdefgh';
const COOLDOWN_MS = 300;

async function me(
  url: string,
  token: string,
): Promise<{ status: number; body: Wire; retryAfter: string | null }> {
  const response = await fetch(`${url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  return {
    status: response.status,
    body: await response.json(),
    retryAfter: response.headers.get('retry-after'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The suite, skipped (by `available`) when its storage is absent. */
export function hostTokenSuite(kind: StorageKind, available: () => boolean): void {
  describe(`host tokens on ${kind}`, () => {
    let keys: KeyServer;
    let rsa: TestKey;
    let ec: TestKey;
    let chat: HostChat;
    const sign = (key: TestKey | { secret: string }, claims: Record<string, unknown>, options = {}) =>
      signToken(key, claims, { issuer: ISSUER, audience: AUDIENCE, ...options });

    before(async () => {
      if (!available()) return;
      rsa = await newKey('RS256');
      ec = await newKey('ES256');
      keys = await startKeyServer([rsa.jwk, ec.jwk]);
      chat = await startHostChat(kind, {
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_URL: keys.jwksUrl,
        AUTH_HS256_SECRET: SECRET,
        AUTH_JWKS_COOLDOWN_MS: String(COOLDOWN_MS),
      });
    });
    after(async () => {
      await chat?.close();
      await keys?.close();
    });

    test('RS256 and ES256 through the JWKS and HS256 by secret name one user per sub, apart from local ids', async (t) => {
      if (!available()) return t.skip('storage absent');
      const sub = 'hsth-user-1';
      const answers = [
        await me(chat.url, await sign(rsa, { sub, name: 'Ann Host' })),
        await me(chat.url, await sign(ec, { sub, name: 'Ann Host' })),
        await me(chat.url, await sign({ secret: SECRET }, { sub, name: 'Ann Host' })),
      ];
      for (const a of answers) {
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.equal(a.body.user.id, hostUserId(ISSUER, sub));
        assert.equal(a.body.user.displayName, 'Ann Host');
        assert.equal(a.body.user.role, 'user');
      }
      // The same sub of another issuer is another user; a local account cannot take the name.
      assert.notEqual(hostUserId('https://other.example', sub), hostUserId(ISSUER, sub));
      assert.match(answers[0]!.body.user.username, /^host:/);
    });

    test('wrong issuer, wrong audience, expired, bad signature: 401; within 60 s of skew: accepted', async (t) => {
      if (!available()) return t.skip('storage absent');
      const sub = 'hsth-user-2';
      const refused = [
        await sign(rsa, { sub }, { issuer: 'https://evil.example.test' }),
        await sign(rsa, { sub }, { audience: 'someone-else' }),
        await sign(ec, { sub }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
        await sign({ secret: `${SECRET}-wrong` }, { sub }),
        await sign({ secret: SECRET }, {}),
      ];
      for (const token of refused) {
        const a = await me(chat.url, token);
        assert.equal(a.status, 401, JSON.stringify(a.body));
        assert.equal(a.body.error.code, 'SB_CHAT_BAD_CREDENTIALS');
      }
      const skewed = await sign(rsa, { sub }, { expiresIn: Math.floor(Date.now() / 1000) - 30 });
      assert.equal((await me(chat.url, skewed)).status, 200);
    });

    test('an unknown kid fetches the key set once more, then is refused; a key added later is found', async (t) => {
      if (!available()) return t.skip('storage absent');
      const rotated = await newKey('RS256');
      assert.equal((await me(chat.url, await sign(rsa, { sub: 'hsth-kid' }))).status, 200);
      await sleep(COOLDOWN_MS + 100);
      const before = keys.fetches;
      const unknown = await sign(rotated, { sub: 'hsth-kid' });
      assert.equal((await me(chat.url, unknown)).status, 401);
      assert.equal(keys.fetches, before + 1, 'fetched once for the unknown kid');
      assert.equal((await me(chat.url, unknown)).status, 401);
      assert.equal(keys.fetches, before + 1, 'not fetched again within the cooldown');
      keys.keys = [...keys.keys, rotated.jwk];
      await sleep(COOLDOWN_MS + 100);
      assert.equal((await me(chat.url, unknown)).status, 200);
      assert.equal(keys.fetches, before + 2);
    });

    test("a host user's name, role and avatar change on their next token; names are cleaned, never refused", async (t) => {
      if (!available()) return t.skip('storage absent');
      const sub = 'hsth-user-3';
      const first = await me(chat.url, await sign(rsa, { sub, name: 'Bea', role: 'user' }));
      assert.deepEqual([first.body.user.displayName, first.body.user.role], ['Bea', 'user']);
      const second = await me(
        chat.url,
        await sign(rsa, {
          sub,
          name: 'Bea\u202E \u0007Agent\u200B',
          role: 'agent',
          picture: 'https://img.example/b.png',
        }),
      );
      assert.equal(second.status, 200);
      assert.deepEqual([second.body.user.displayName, second.body.user.role], ['Bea Agent', 'agent']);
      const host = await chat.app.storage.hostUser(hostUserId(ISSUER, sub));
      assert.equal(host?.avatarUrl, 'https://img.example/b.png');
      // Nothing visible left, or an unknown role: the user is let in, with what was stored.
      const third = await me(chat.url, await sign(rsa, { sub, name: '\u202E\u0000', role: 'overlord' }));
      assert.equal(third.status, 200);
      assert.deepEqual([third.body.user.displayName, third.body.user.role], ['Bea Agent', 'agent']);
      // On the hub the new role holds: an agent reads the support queue.
      const connection = await chat.connect(await sign(ec, { sub, name: 'Bea Agent', role: 'agent' }));
      assert.ok(Array.isArray(await connection.invoke('listSupportQueue')));
      const back = await me(chat.url, await sign(ec, { sub, name: 'Bea', role: 'user' }));
      assert.deepEqual([back.body.user.displayName, back.body.user.role], ['Bea', 'user']);
    });

    test('the official SignalR client connects with a host token and chats', async (t) => {
      if (!available()) return t.skip('storage absent');
      const token = await sign(rsa, { sub: 'hsth-hub', name: 'Hub Host' });
      const connection = await chat.connect(token);
      const room = await connection.invoke('createRoom', { name: `hsth room ${Date.now()}` });
      const received: Wire[] = [];
      connection.on('messageReceived', (m: Wire) => received.push(m));
      await connection.invoke('sendMessage', {
        roomId: room.id,
        text: 'hello from the host',
        clientMessageId: 'hsth-1',
      });
      await waitFor(() => received.length === 1, 5_000, 'the message back');
      assert.equal(received[0].senderId, hostUserId(ISSUER, 'hsth-hub'));
      // A bad host token: the negotiate is refused with a 401.
      const bad = await sign(rsa, { sub: 'hsth-hub' }, { audience: 'nope' });
      const negotiate = await fetch(`${chat.url}/hubs/chat/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bad}` },
      });
      assert.equal(negotiate.status, 401);
    });

    test('keys that cannot be fetched: 503 with a code and a log line, never a 401 nor a crash', async (t) => {
      if (!available()) return t.skip('storage absent');
      const unreachable = await startHostChat(kind, {
        AUTH_ISSUER: ISSUER,
        AUTH_JWKS_URL: `http://127.0.0.1:${await closedPort()}/jwks.json`,
      });
      try {
        const token = await sign(rsa, { sub: 'hsth-down' });
        const a = await me(unreachable.url, token);
        assert.equal(a.status, 503);
        assert.equal(a.body.error.code, 'SB_CHAT_AUTH_UNAVAILABLE');
        assert.equal(a.retryAfter, '5');
        const negotiate = await fetch(`${unreachable.url}/hubs/chat/negotiate?negotiateVersion=1`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}` },
        });
        assert.equal(negotiate.status, 503);
        assert.ok(
          unreachable.logs.some(
            (l) => l.event === 'chat.auth.keys_unavailable' && l.fields?.code === 'SB_CHAT_AUTH_UNAVAILABLE',
          ),
        );
        assert.equal((await fetch(`${unreachable.url}/healthz`)).status, 200);
      } finally {
        await unreachable.close();
      }
      // Discovery failing: 503 too, and not asked again within the cooldown.
      keys.down = true;
      const undiscovered = await startHostChat(kind, {
        AUTH_ISSUER: keys.url,
        AUTH_JWKS_COOLDOWN_MS: '60000',
      });
      try {
        const before = keys.discoveries;
        const token = await signToken(rsa, { sub: 'hsth-undiscovered' }, { issuer: keys.url });
        for (let i = 0; i < 3; i++) {
          const a = await me(undiscovered.url, token);
          assert.deepEqual([a.status, a.body.error.code], [503, 'SB_CHAT_AUTH_UNAVAILABLE']);
        }
        assert.equal(keys.discoveries, before + 1);
      } finally {
        keys.down = false;
        await undiscovered.close();
      }
    });

    test('keys discovered from AUTH_ISSUER; claim names configurable; the key server going down is a 503', async (t) => {
      if (!available()) return t.skip('storage absent');
      const discovered = await startHostChat(kind, {
        AUTH_ISSUER: keys.url,
        AUTH_CLAIM_NAME: 'display',
        AUTH_CLAIM_ROLE: 'https://hsth.example/role',
        AUTH_JWKS_COOLDOWN_MS: String(COOLDOWN_MS),
      });
      try {
        const token = await signToken(
          rsa,
          { sub: 'hsth-disc', display: 'Dee', 'https://hsth.example/role': 'admin' },
          { issuer: keys.url },
        );
        const a = await me(discovered.url, token);
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.deepEqual([a.body.user.displayName, a.body.user.role], ['Dee', 'admin']);
        keys.down = true;
        await sleep(COOLDOWN_MS + 100);
        const other = await newKey('ES256');
        const b = await me(
          discovered.url,
          await signToken(other, { sub: 'hsth-disc' }, { issuer: keys.url }),
        );
        assert.equal(b.status, 503);
        assert.equal(b.body.error.code, 'SB_CHAT_AUTH_UNAVAILABLE');
        // A key already held still verifies while the server is down.
        assert.equal((await me(discovered.url, token)).status, 200);
      } finally {
        keys.down = false;
        await discovered.close();
      }
    });
  });
}
