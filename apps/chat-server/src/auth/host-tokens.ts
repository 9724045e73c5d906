/**
 * Verifies the host app's tokens with jose (issue #15): RS256/ES256 through a JSON Web Key Set
 * (`AUTH_JWKS_URL`, or the `jwks_uri` of `AUTH_ISSUER`'s OpenID configuration), or HS256 with
 * `AUTH_HS256_SECRET`; `iss` (and `aud` when configured) checked, `exp` required, 60 s of clock
 * skew. Keys are cached and fetched again when a token names an unknown `kid` (at most once per
 * `AUTH_JWKS_COOLDOWN_MS`). When the keys cannot be had the verifier throws
 * `SB_CHAT_AUTH_UNAVAILABLE` (HTTP 503), never a refusal: a 401 would make clients drop tokens that
 * may well be valid.
 * @module
 */
import { createHash } from 'node:crypto';
import type { Logger } from '@switchboard/server';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { HostUserService } from '../domain/host-users.js';
import { ChatError } from '../errors.js';
import type { HostAuthConfig } from './host-config.js';
import type { VerifiedToken } from './tokens.js';

/** Allowed clock difference for `exp` and `nbf`, seconds. */
export const HOST_CLOCK_SKEW_SECONDS = 60;
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** jose's codes for keys that could not be had (fetch refused or non-200, timeout, not a key set). */
const KEYS_UNAVAILABLE = new Set(['ERR_JOSE_GENERIC', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

/** Verifies host tokens and maps them to chat users. */
export class HostTokenVerifier {
  private readonly secret: Uint8Array | undefined;
  private jwks: JWTVerifyGetKey | undefined;
  /** When discovery last failed (ms): it is not tried again within the cooldown. */
  private discoveryFailedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: HostAuthConfig,
    private readonly users: HostUserService,
    private readonly logger: Logger,
  ) {
    this.secret = config.hs256Secret === undefined ? undefined : new TextEncoder().encode(config.hs256Secret);
    if (config.jwksUrl !== undefined) this.jwks = this.remoteSet(config.jwksUrl);
  }

  /** Whether a token claims to come from the host's issuer (read without verifying). */
  claims(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.config.issuer;
    } catch {
      return false;
    }
  }

  /**
   * The chat user behind a host token, or undefined when it is bad, expired, of another issuer or
   * audience, or signed by an unknown key. Throws `SB_CHAT_AUTH_UNAVAILABLE` when the keys cannot
   * be fetched.
   */
  async verify(token: string): Promise<VerifiedToken | undefined> {
    let payload: JWTPayload;
    try {
      const alg = decodeProtectedHeader(token).alg ?? '';
      const options = {
        issuer: this.config.issuer,
        clockTolerance: HOST_CLOCK_SKEW_SECONDS,
        requiredClaims: ['sub', 'exp'],
        ...(this.config.audience !== undefined ? { audience: this.config.audience } : {}),
      };
      if (alg.startsWith('HS')) {
        if (!this.secret) return undefined;
        payload = (await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] })).payload;
      } else {
        if (this.config.jwksUrl === undefined && !this.config.discover) return undefined;
        const keys = await this.keySet();
        payload = (await jwtVerify(token, keys, { ...options, algorithms: ASYMMETRIC })).payload;
      }
    } catch (error) {
      if (error instanceof ChatError) throw error;
      if (keysUnavailable(error)) throw this.unavailable(error);
      return undefined;
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255) return undefined;
    const user = await this.users.fromClaims(this.config.issuer, sub, {
      name: payload[this.config.claimName],
      role: payload[this.config.claimRole],
      picture: payload.picture,
    });
    // The token's own id, else its digest: logout puts it on the revocation list like ours.
    const own =
      typeof payload.jti === 'string' ? payload.jti : createHash('sha256').update(token).digest('hex');
    return { user, jti: `host:${user.id}:${own.slice(0, 128)}`, expiresAt: (payload.exp as number) * 1000 };
  }

  /** The JWKS: configured, or discovered from the issuer's OpenID configuration (once found, kept). */
  private async keySet(): Promise<JWTVerifyGetKey> {
    if (this.jwks) return this.jwks;
    const url = `${this.config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    if (Date.now() - this.discoveryFailedAt < this.config.jwksCooldownMs) {
      throw this.unavailable(new Error(`${url} failed less than AUTH_JWKS_COOLDOWN_MS ago`));
    }
    let jwksUri: unknown;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      jwksUri = ((await response.json()) as { jwks_uri?: unknown }).jwks_uri;
    } catch (error) {
      this.discoveryFailedAt = Date.now();
      throw this.unavailable(error);
    }
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) {
      this.discoveryFailedAt = Date.now();
      throw this.unavailable(new Error(`${url} names no http(s) jwks_uri`));
    }
    this.jwks ??= this.remoteSet(jwksUri);
    return this.jwks;
  }

  private remoteSet(url: string): JWTVerifyGetKey {
    return createRemoteJWKSet(new URL(url), {
      cooldownDuration: this.config.jwksCooldownMs,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  }

  private unavailable(error: unknown): ChatError {
    this.logger.warn('chat.auth.keys_unavailable', {
      code: 'SB_CHAT_AUTH_UNAVAILABLE',
      issuer: this.config.issuer,
      error: error instanceof Error ? error.message : String(error),
    });
    return new ChatError(
      'SB_CHAT_AUTH_UNAVAILABLE',
      "The host app's signing keys cannot be fetched right now; try again shortly.",
      { retryAfterSeconds: 5 },
    );
  }
}

/** A failure to get the keys, as opposed to a bad token. */
function keysUnavailable(error: unknown): boolean {
  if (!(error instanceof joseErrors.JOSEError)) return true;
  return KEYS_UNAVAILABLE.has(error.code);
}
