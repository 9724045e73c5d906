// Authorization as the official client sees it: a hub that requires a user (401), a role it lacks
// (403), per-method requirements (the reference's Completion text), and bad tokens on a hub that
// does not require a user (the connection is anonymous).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import {
  connectClient,
  negotiate,
  RawClient,
  startTestServer,
  type TestServer,
  UpgradeRefusedError,
} from '@switchboard/testkit';

const secret = 'auth-test-secret';

class WhoHub extends Hub {
  static methods = {
    adminOnly: { authorize: { roles: ['admin'] } },
    signedIn: { authorize: true as const },
    goldTier: { authorize: { claims: { tier: 'gold' } } },
    evenLength: { authorize: { policy: (user: { userId: string }) => user.userId.length % 2 === 0 } },
  };
  who() {
    return this.context.userIdentifier ?? null;
  }
  adminOnly() {
    return 'admin ok';
  }
  signedIn() {
    return 'signed in';
  }
  goldTier() {
    return 'gold';
  }
  evenLength() {
    return 'even';
  }
}

let server: TestServer;

before(async () => {
  server = await startTestServer(
    (h) =>
      h
        .mapHub('/open', WhoHub)
        .mapHub('/private', WhoHub, { authorize: true })
        .mapHub('/admins', WhoHub, { authorize: { roles: ['admin'] } }),
    { authenticate: jwtBearerAuthenticator({ secret }) },
  );
});
after(() => server.close());

const token = (sub: string, extra: Record<string, unknown> = {}, lifetimeSeconds = 3600) =>
  signJwt({ sub, ...extra }, secret, { lifetimeSeconds });

test('a hub that requires a user refuses an anonymous client with 401', async () => {
  const c = await connectClient(`${server.baseUrl}/private`, { noStart: true });
  await assert.rejects(c.start(), {
    message: "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'",
  });
});

test("every 401 of a hub that requires a user carries 'WWW-Authenticate: Bearer', as the reference's", async () => {
  const hub = `${server.baseUrl}/private`;
  const negotiated = await negotiate(hub);
  assert.equal(negotiated.status, 401);
  assert.equal(negotiated.headers.get('www-authenticate'), 'Bearer');
  assert.equal(negotiated.text, '');
  const poll = await fetch(`${hub}?id=unknown`);
  assert.equal(poll.status, 401);
  assert.equal(poll.headers.get('www-authenticate'), 'Bearer');
  await assert.rejects(RawClient.connect(hub, { id: null }), (error: unknown) => {
    assert.ok(error instanceof UpgradeRefusedError);
    assert.equal(error.status, 401);
    assert.equal(error.headers?.['www-authenticate'], 'Bearer');
    return true;
  });
  // A 403 challenges nothing.
  const forbidden = await negotiate(`${server.baseUrl}/admins`, undefined, {
    headers: { Authorization: `Bearer ${token('frank', { role: 'user' })}` },
  });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.headers.get('www-authenticate'), null);
});

test('a hub that requires a user accepts a valid token', async () => {
  const c = await connectClient(`${server.baseUrl}/private`, { accessTokenFactory: () => token('erin') });
  try {
    assert.equal(await c.invoke('who'), 'erin');
  } finally {
    await c.stop();
  }
});

test('an expired or badly signed token on a hub that requires a user gets 401', async () => {
  for (const bad of [
    signJwt({ sub: 'erin', exp: Math.floor(Date.now() / 1000) - 60 }, secret),
    signJwt({ sub: 'erin' }, 'another secret'),
    'not.a.jwt',
  ]) {
    const c = await connectClient(`${server.baseUrl}/private`, {
      noStart: true,
      accessTokenFactory: () => bad,
    });
    await assert.rejects(c.start(), /Status code '401'$/);
  }
});

test('a hub that requires a role refuses a user without it with 403, and accepts one with it', async () => {
  const c = await connectClient(`${server.baseUrl}/admins`, {
    noStart: true,
    accessTokenFactory: () => token('frank', { role: 'user' }),
  });
  await assert.rejects(c.start(), {
    message: "Failed to complete negotiation with the server: Error: Forbidden: Status code '403'",
  });
  const anonymous = await connectClient(`${server.baseUrl}/admins`, { noStart: true });
  await assert.rejects(anonymous.start(), /Status code '401'$/);
  const admin = await connectClient(`${server.baseUrl}/admins`, {
    accessTokenFactory: () => token('grace', { roles: ['user', 'admin'] }),
  });
  try {
    assert.equal(await admin.invoke('who'), 'grace');
  } finally {
    await admin.stop();
  }
});

test("per-method requirements: refused calls get the reference's text, allowed ones run", async () => {
  const anonymous = await connectClient(`${server.baseUrl}/open`);
  const user = await connectClient(`${server.baseUrl}/open`, {
    accessTokenFactory: () => token('heidi', { role: 'user', tier: 'silver' }),
  });
  const admin = await connectClient(`${server.baseUrl}/open`, {
    accessTokenFactory: () => token('ivan', { role: 'admin', tier: 'gold' }),
  });
  try {
    const refused = (method: string) => ({
      message: `Failed to invoke '${method}' because user is unauthorized`,
    });
    await assert.rejects(anonymous.invoke('signedIn'), refused('signedIn'));
    await assert.rejects(anonymous.invoke('adminOnly'), refused('adminOnly'));
    await assert.rejects(user.invoke('adminOnly'), refused('adminOnly'));
    await assert.rejects(user.invoke('AdminOnly'), refused('AdminOnly'));
    await assert.rejects(user.invoke('goldTier'), refused('goldTier'));
    await assert.rejects(user.invoke('evenLength'), refused('evenLength')); // 'heidi' has 5 letters
    assert.equal(await user.invoke('signedIn'), 'signed in');
    assert.equal(await admin.invoke('adminOnly'), 'admin ok');
    assert.equal(await admin.invoke('goldTier'), 'gold');
    assert.equal(await admin.invoke('evenLength'), 'even');
    // the refusals did not harm the connections
    assert.equal(await anonymous.invoke('who'), null);
    assert.equal(await user.invoke('who'), 'heidi');
  } finally {
    await Promise.all([anonymous.stop(), user.stop(), admin.stop()]);
  }
});

test('an invalid or expired token on a hub that does not require a user connects anonymously', async () => {
  for (const bad of [
    signJwt({ sub: 'judy', exp: Math.floor(Date.now() / 1000) - 1 }, secret),
    signJwt({ sub: 'judy' }, 'wrong secret'),
    'garbage',
  ]) {
    const c = await connectClient(`${server.baseUrl}/open`, { accessTokenFactory: () => bad });
    try {
      assert.equal(await c.invoke('who'), null);
      await assert.rejects(c.invoke('signedIn'), {
        message: "Failed to invoke 'signedIn' because user is unauthorized",
      });
    } finally {
      await c.stop();
    }
  }
});
