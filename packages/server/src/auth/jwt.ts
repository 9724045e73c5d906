/**
 * Compact HS256 JSON Web Tokens (RFC 7519) on node:crypto: enough to issue and check the bearer
 * tokens a hub accepts, with constant-time signature comparison and expiry checks.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The claims of a token. `exp`, `nbf` and `iat` are seconds since the epoch. */
export type JwtClaims = Record<string, unknown> & { sub?: string; exp?: number; nbf?: number; iat?: number };

/** Why {@link verifyJwt} refused a token. */
export type JwtFailure = 'malformed' | 'algorithm' | 'signature' | 'expired' | 'not-yet-valid';

/** The outcome of {@link verifyJwt}. */
export type JwtResult = { ok: true; claims: JwtClaims } | { ok: false; reason: JwtFailure };

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function sign(input: string, secret: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(input).digest();
}

/**
 * Signs `claims` with HS256. `lifetimeSeconds` sets `iat` and `exp` unless the claims have them.
 *
 * @example
 * ```ts
 * const token = signJwt({ sub: 'alice' }, secret, { lifetimeSeconds: 3600 });
 * ```
 */
export function signJwt(
  claims: JwtClaims,
  secret: string | Uint8Array,
  options: { lifetimeSeconds?: number; nowSeconds?: number } = {},
): string {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const body: JwtClaims = { iat: now, ...claims };
  if (options.lifetimeSeconds !== undefined && body.exp === undefined)
    body.exp = now + options.lifetimeSeconds;
  const unsigned = `${HEADER}.${base64url(JSON.stringify(body))}`;
  return `${unsigned}.${sign(unsigned, secret).toString('base64url')}`;
}

/**
 * Checks an HS256 token's signature and its `exp`/`nbf` (with `clockSkewSeconds` of leeway,
 * default 0) and returns its claims. Never throws.
 *
 * @deprecated `jwtBearerAuthenticator` verifies with jose (every algorithm, JWKS, issuer
 * and audience); use it, or jose's `jwtVerify`. Kept for existing callers.
 */
export function verifyJwt(
  token: string,
  secret: string | Uint8Array,
  options: { nowSeconds?: number; clockSkewSeconds?: number } = {},
): JwtResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed' };
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isObject(header) || !isObject(claims)) return { ok: false, reason: 'malformed' };
  if (header.alg !== 'HS256') return { ok: false, reason: 'algorithm' };
  const expected = sign(`${headerPart}.${payloadPart}`, secret);
  const actual = Buffer.from(signaturePart, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    return { ok: false, reason: 'signature' };
  }
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const skew = options.clockSkewSeconds ?? 0;
  if (typeof claims.exp === 'number' && now >= claims.exp + skew) return { ok: false, reason: 'expired' };
  if (typeof claims.nbf === 'number' && now < claims.nbf - skew)
    return { ok: false, reason: 'not-yet-valid' };
  return { ok: true, claims: claims as JwtClaims };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
