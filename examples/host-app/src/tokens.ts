/**
 * The host app as an issuer of chat tokens: an RS256 key pair made at start with `jose`, its
 * public half served as a JSON Web Key Set, and short-lived tokens for the signed-in user. The chat
 * finds the key set through `AUTH_ISSUER` + `/.well-known/openid-configuration` (or
 * `AUTH_JWKS_URL`) and verifies each token against it.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { HostUser } from './directory.ts';

/** The signing algorithm of the chat tokens. */
export const TOKEN_ALGORITHM = 'RS256';

/** Signs chat tokens and publishes the key to check them with. */
export class TokenIssuer {
  private constructor(
    /** The issuer (`iss`): the host app's public URL. */
    readonly issuer: string,
    private readonly audience: string | undefined,
    private readonly ttlSeconds: number,
    private readonly privateKey: CryptoKey,
    /** The public key as a JWK (with `kid`, `alg` and `use`). */
    readonly publicJwk: JWK,
  ) {}

  /** A new issuer with a fresh RS256 key pair. */
  static async create(options: {
    issuer: string;
    audience?: string;
    ttlSeconds: number;
  }): Promise<TokenIssuer> {
    const { publicKey, privateKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
    const jwk: JWK = {
      ...(await exportJWK(publicKey)),
      kid: `hostapp-${randomUUID()}`,
      alg: TOKEN_ALGORITHM,
      use: 'sig',
    };
    return new TokenIssuer(options.issuer, options.audience, options.ttlSeconds, privateKey, jwk);
  }

  /** The JSON Web Key Set (`/.well-known/jwks.json`). */
  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** The OpenID configuration the chat discovers the key set from. */
  openIdConfiguration(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: [TOKEN_ALGORITHM],
      subject_types_supported: ['public'],
      response_types_supported: ['id_token'],
    };
  }

  /**
   * A chat token for `user`: `sub` (their id in this app), `name`, `role`, `iss`, `aud` when
   * configured, `iat` and `exp`.
   */
  async tokenFor(user: HostUser): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ name: user.name, role: user.role })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: this.publicJwk.kid!, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(user.id)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds);
    if (this.audience !== undefined) jwt.setAudience(this.audience);
    return { token: await jwt.sign(this.privateKey), expiresAt: new Date((now + this.ttlSeconds) * 1000) };
  }
}
