/**
 * Who is on the other end: the pluggable authentication hook and the JWT bearer implementation.
 * @module
 */
import type { HttpRequestInfo } from '../http/http-request-info.js';
import { type JwtClaims, verifyJwt } from './jwt.js';

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

/** Options of {@link jwtBearerAuthenticator}. */
export interface JwtBearerOptions {
  /** The HS256 secret. */
  secret: string | Uint8Array;
  /**
   * Also read the token from the `access_token` query parameter (browsers cannot set headers on
   * WebSockets, and Server-Sent Events always use the query). Default true.
   */
  allowQueryToken?: boolean;
  /** Leeway for `exp`/`nbf`, seconds. Default 0. */
  clockSkewSeconds?: number;
  /** Maps claims to a user id. Default: `sub`, then the name-identifier claim, then `nameid`. */
  userId?: (claims: JwtClaims) => string | undefined;
}

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
 * An {@link Authenticator} for HS256 JWT bearer tokens.
 *
 * @example
 * ```ts
 * const server = new HubServer({ authenticate: jwtBearerAuthenticator({ secret: process.env.JWT_SECRET! }) });
 * ```
 */
export function jwtBearerAuthenticator(options: JwtBearerOptions): Authenticator {
  const allowQuery = options.allowQueryToken ?? true;
  const pickUserId = options.userId ?? defaultUserId;
  return (request) => {
    const token = bearerToken(request, allowQuery);
    if (!token) return null;
    const result = verifyJwt(token, options.secret, { clockSkewSeconds: options.clockSkewSeconds ?? 0 });
    if (!result.ok) return null;
    const userId = pickUserId(result.claims);
    if (!userId) return null;
    const roles = rolesOf(result.claims);
    return {
      userId,
      claims: result.claims,
      ...(roles ? { roles } : {}),
      ...(typeof result.claims.exp === 'number' ? { expiresAt: result.claims.exp * 1000 } : {}),
    };
  };
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
