// jwtBearerAuthenticator on jose: HS256 by secret, RS256 and ES256 through a JWKS served here,
// issuer and audience checks, an unknown `kid` (the set fetched again once, then refused), and a
// JWKS that cannot be fetched (503 with a code, never 401, and the server keeps serving).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Hub, jwtBearerAuthenticator, signJwt } from '@switchboard/server';
import {
  connectClient,
  RawClient,
  startTestServer,
  type TestServer,
  UpgradeRefusedError,
} from '@switchboard/testkit';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

class WhoHub extends Hub {
  who() {
    return this.context.userIdentifier ?? null;
  }
}

/** A JWKS endpoint whose keys, availability and fetch count the tests control. */
class JwksServer {
  keys: JWK[] = [];
  down = false;
  fetches = 0;
  readonly server: Server = createServer((_req, res) => {
    this.fetches += 1;
    if (this.down) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
  });
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }
}

const ISSUER = 'https://idp.test/';
const AUDIENCE = 'switchboard-tests';
const jwks = new JwksServer();
let rsa: CryptoKeyPair;
let ec: CryptoKeyPair;
let stranger: CryptoKeyPair;
let server: TestServer;

async function publicJwk(pair: CryptoKeyPair, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
}

function sign(pair: CryptoKeyPair, alg: string, kid: string) {
  return new SignJWT({ sub: 'ada' })
    .setProtectedHeader({ alg, kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(pair.privateKey);
}

before(async () => {
  rsa = (await generateKeyPair('RS256')) as CryptoKeyPair;
  ec = (await generateKeyPair('ES256')) as CryptoKeyPair;
  stranger = (await generateKeyPair('RS256')) as CryptoKeyPair;
  jwks.keys = [await publicJwk(rsa, 'rsa-1', 'RS256'), await publicJwk(ec, 'ec-1', 'ES256')];
  await new Promise<void>((resolve) => jwks.server.listen(0, '127.0.0.1', resolve));
  server = await startTestServer((h) => h.mapHub('/idp', WhoHub, { authorize: true }), {
    authenticate: jwtBearerAuthenticator({
      jwks: jwks.url,
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksCooldownMs: 0,
      jwksTimeoutMs: 2_000,
    }),
  });
});
after(async () => {
  await server.close();
  jwks.server.close();
});

async function negotiateStatus(token: string | undefined): Promise<Response> {
  return fetch(`${server.baseUrl}/idp/negotiate?negotiateVersion=1`, {
    method: 'POST',
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

test('RS256 and ES256 tokens verified through the JWKS reach the hub as their user', async () => {
  for (const [pair, alg, kid] of [
    [rsa, 'RS256', 'rsa-1'],
    [ec, 'ES256', 'ec-1'],
  ] as const) {
    const token = await sign(pair, alg, kid);
    const client = await connectClient(`${server.baseUrl}/idp`, { accessTokenFactory: () => token });
    try {
      assert.equal(await client.invoke('who'), 'ada', alg);
    } finally {
      await client.stop();
    }
  }
});

test('a wrong issuer, a wrong audience, an expired token and a foreign key are 401', async () => {
  const wrongIssuer = await new SignJWT({ sub: 'ada' })
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
    .setIssuer('https://elsewhere.test/')
    .setAudience(AUDIENCE)
    .setExpirationTime('5m')
    .sign(rsa.privateKey);
  const wrongAudience = await new SignJWT({ sub: 'ada' })
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
    .setIssuer(ISSUER)
    .setAudience('another-app')
    .setExpirationTime('5m')
    .sign(rsa.privateKey);
  const expired = await new SignJWT({ sub: 'ada' })
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
    .sign(rsa.privateKey);
  const forged = await sign(stranger, 'RS256', 'rsa-1');
  for (const [name, token] of Object.entries({ wrongIssuer, wrongAudience, expired, forged })) {
    const response = await negotiateStatus(token);
    assert.equal(response.status, 401, name);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer', name);
  }
});

test('an HS256 token is refused where only the JWKS keys are accepted', async () => {
  const hs = signJwt({ sub: 'ada', iss: ISSUER, aud: AUDIENCE }, 'a guessed secret', { lifetimeSeconds: 60 });
  assert.equal((await negotiateStatus(hs)).status, 401);
});

test('an unknown kid makes the set be fetched again once: a rotated-in key works, an unknown one is refused', async () => {
  const rotated = (await generateKeyPair('ES256')) as CryptoKeyPair;
  const token = await sign(rotated, 'ES256', 'ec-2');
  assert.equal((await negotiateStatus(token)).status, 401, 'not published yet');
  jwks.keys = [...jwks.keys, await publicJwk(rotated, 'ec-2', 'ES256')];
  const before = jwks.fetches;
  assert.equal((await negotiateStatus(token)).status, 200, 'published: fetched again and accepted');
  assert.equal(jwks.fetches, before + 1);
  const unknown = await sign(stranger, 'RS256', 'never-published');
  const beforeUnknown = jwks.fetches;
  assert.equal((await negotiateStatus(unknown)).status, 401);
  assert.equal(jwks.fetches, beforeUnknown + 1, 'one fetch for the unknown kid, then refused');
});

test('a JWKS that cannot be fetched answers 503 with Retry-After on negotiate and upgrade, and the server keeps serving', async () => {
  const rotated = (await generateKeyPair('RS256')) as CryptoKeyPair;
  const token = await sign(rotated, 'RS256', 'rsa-down');
  jwks.down = true;
  try {
    const response = await negotiateStatus(token);
    assert.equal(response.status, 503);
    assert.ok(Number(response.headers.get('retry-after')) > 0);
    assert.equal(await response.text(), 'Authentication is unavailable.');
    await assert.rejects(
      RawClient.connect(`${server.baseUrl}/idp`, { id: null, headers: { Authorization: `Bearer ${token}` } }),
      (error: unknown) => {
        assert.ok(error instanceof UpgradeRefusedError);
        assert.equal(error.status, 503);
        assert.equal(error.body, 'Authentication is unavailable.');
        return true;
      },
    );
  } finally {
    jwks.down = false;
  }
  // A token whose key is cached is still judged while the endpoint is down, and after it is back.
  const known = await sign(rsa, 'RS256', 'rsa-1');
  assert.equal((await negotiateStatus(known)).status, 200);
});

test('the options need exactly one of secret and jwks', () => {
  assert.throws(() => jwtBearerAuthenticator({}), TypeError);
  assert.throws(
    () => jwtBearerAuthenticator({ secret: 's', jwks: 'http://127.0.0.1:1/jwks.json' }),
    TypeError,
  );
});
