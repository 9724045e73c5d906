/**
 * Who is on the other end: the pluggable authentication hook and the JWT bearer implementation.
 * @module
 */

import {
  createRemoteJWKSet,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { SwitchboardError } from '../errors.js';
import type { HttpRequestInfo } from '../http/http-request-info.js';
import type { JwtClaims } from './jwt.js';

/** The name-identifier claim type ASP.NET maps a user id from. */
export const NAME_IDENTIFIER_CLAIM = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier';

/** An authenticated user as the hub layer sees it. */
export interface Principal {
  /** The user identifier: every connection with the same id is the same user (`clients.user(id)`). */
  readonly userId: string;
  /** All claims, for authorization policies and hub code. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Roles, when the credentials carry them. */
  readonly roles?: readonly string[];
  /** When the credentials stop being valid (ms since the epoch), if they expire. */
  readonly expiresAt?: number;
}

/**
 * Finds the user behind a request: returns a principal, or null for an anonymous request. It runs
 * on negotiate and again on every transport request; it must not throw for bad credentials (return
 * null: a hub that requires a user then answers 401).
 */
export type Authenticator = (request: HttpRequestInfo) => Principal | null | Promise<Principal | null>;

/** Options of {@link jwtBearerAuthenticator}: a `secret` or a `jwks`, not both. */
export interface JwtBearerOptions {
  /** A secret shared with the token's issuer, for the HMAC algorithms (HS256 unless `algorithms` says). */
  secret?: string | Uint8Array;
  /**
   * The issuer's public keys (RS256, ES256, ...): the URL of a JSON Web Key Set, fetched and
   * cached, and fetched again when a token names a `kid` the cached set lacks (at most once per
   * `jwksCooldownMs`); or a key resolver such as jose's `createLocalJWKSet`.
   */
  jwks?: string | URL | JWTVerifyGetKey;
  /** The accepted `iss` value(s); unchecked when absent. */
  issuer?: string | string[];
  /** The accepted `aud` value(s); unchecked when absent. */
  audience?: string | string[];
  /**
   * The accepted `alg` values. Default: `['HS256']` with a secret; with a JWKS, the asymmetric
   * algorithms `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `ES512`, `EdDSA`.
   */
  algorithms?: string[];
  /**
   * Also read the token from the `access_token` query parameter (browsers cannot set headers on
   * WebSockets, and Server-Sent Events always use the query). Default true.
   */
  allowQueryToken?: boolean;
  /** Leeway for `exp`/`nbf`, seconds. Default 0. */
  clockSkewSeconds?: number;
  /** Maps claims to a user id. Default: `sub`, then the name-identifier claim, then `nameid`. */
  userId?: (claims: JwtClaims) => string | undefined;
  /** The shortest time between two fetches of a JWKS URL, ms. Default 30,000. */
  jwksCooldownMs?: number;
  /** How long a JWKS fetch may take, ms. Default 5,000. */
  jwksTimeoutMs?: number;
}

/**
 * Thrown by an {@link Authenticator} that cannot judge the credentials right now (the key set it
 * needs could not be fetched). The server answers 503 with `Retry-After`, not 401: a 401 would make
 * clients drop a token that may well be valid (`SB_ERR_AUTH_UNAVAILABLE`).
 */
export class AuthenticationUnavailableError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SB_ERR_AUTH_UNAVAILABLE', message, options);
    this.name = 'AuthenticationUnavailableError';
  }
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** The bearer token of a request: the Authorization header first, then `access_token` in the query. */
export function bearerToken(request: HttpRequestInfo, allowQuery = true): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ') {
    return header.slice(7).trim();
  }
  if (allowQuery) return request.query.get('access_token') ?? undefined;
  return undefined;
}

/**
 * An {@link Authenticator} for JWT bearer tokens, verified with jose: HS256 (or another HMAC
 * algorithm) with a shared `secret`, or the issuer's public keys from a `jwks`; `exp` and `nbf`
 * always checked, `iss` and `aud` when configured. A token that fails any check is anonymous
 * (null); a key set that cannot be fetched throws {@link AuthenticationUnavailableError}.
 *
 * @example
 * ```ts
 * const server = new HubServer({ authenticate: jwtBearerAuthenticator({ secret: process.env.JWT_SECRET! }) });
 * const fromIdp = jwtBearerAuthenticator({
 *   jwks: 'https://idp.example.com/.well-known/jwks.json',
 *   issuer: 'https://idp.example.com/',
 *   audience: 'chat',
 * });
 * ```
 */
export function jwtBearerAuthenticator(options: JwtBearerOptions): Authenticator {
  const allowQuery = options.allowQueryToken ?? true;
  const pickUserId = options.userId ?? defaultUserId;
  const key = verificationKey(options);
  const verifyOptions: JWTVerifyOptions = {
    algorithms: options.algorithms ?? (options.secret !== undefined ? ['HS256'] : ASYMMETRIC),
    clockTolerance: options.clockSkewSeconds ?? 0,
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
  };
  return async (request) => {
    const token = bearerToken(request, allowQuery);
    if (!token) return null;
    let claims: JwtClaims;
    try {
      claims = (
        await (key instanceof Uint8Array
          ? jwtVerify(token, key, verifyOptions)
          : jwtVerify(token, key, verifyOptions))
      ).payload as JwtClaims;
    } catch (error) {
      if (unavailable(error)) {
        throw new AuthenticationUnavailableError(
          `The JWKS could not be fetched: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      return null;
    }
    const userId = pickUserId(claims);
    if (!userId) return null;
    const roles = rolesOf(claims);
    return {
      userId,
      claims,
      ...(roles ? { roles } : {}),
      ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp * 1000 } : {}),
    };
  };
}

function verificationKey(options: JwtBearerOptions): Uint8Array | JWTVerifyGetKey {
  if ((options.secret === undefined) === (options.jwks === undefined)) {
    throw new TypeError('jwtBearerAuthenticator: give exactly one of `secret` and `jwks`.');
  }
  if (options.secret !== undefined) {
    return typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
  }
  const jwks = options.jwks as string | URL | JWTVerifyGetKey;
  if (typeof jwks === 'function') return jwks;
  return createRemoteJWKSet(new URL(jwks), {
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    timeoutDuration: options.jwksTimeoutMs ?? 5_000,
  });
}

/** jose's codes for a key set that could not be had: fetch refused or non-200, timeout, not a key set. */
const KEYS_UNAVAILABLE = new Set(['ERR_JOSE_GENERIC', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

/**
 * A failure to get the keys, as opposed to a bad token: the fetch failed, timed out or did not
 * answer 200, or the endpoint answered something that is not a key set.
 */
function unavailable(error: unknown): boolean {
  if (!(error instanceof joseErrors.JOSEError)) return true;
  return KEYS_UNAVAILABLE.has(error.code);
}

function defaultUserId(claims: JwtClaims): string | undefined {
  for (const key of ['sub', NAME_IDENTIFIER_CLAIM, 'nameid']) {
    const value = claims[key];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

function rolesOf(claims: JwtClaims): string[] | undefined {
  const value = claims.role ?? claims.roles;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}
