/**
 * Access tokens as the reference issues them: HS256 JWTs signed with an access key's UTF-8 bytes,
 * with a required `exp` and an audience that names what they open (the client hub URL, or the REST
 * request URL without its query). Several keys may be valid at once (rotation).
 * @module
 */
import { errors, type JWTPayload, jwtVerify } from 'jose';

/** What a verified token says, or why it was refused. */
export type TokenCheck =
  | { readonly ok: true; readonly claims: JWTPayload }
  | { readonly ok: false; readonly reason: string };

/** The name-identifier claim type ASP.NET maps a user id from (the reference accepts it too). */
const NAME_IDENTIFIER = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier';

/** The access keys of the service; a token signed with any of them passes. */
export class AccessKeys {
  private readonly keys: readonly Uint8Array[];

  constructor(keys: readonly string[]) {
    const encoder = new TextEncoder();
    this.keys = keys.map((key) => encoder.encode(key));
  }

  /** The raw keys, for the upstream signature (one HMAC per key). */
  get secrets(): readonly Uint8Array[] {
    return this.keys;
  }

  /**
   * Verifies `token` against every key: signature (HS256 only), `exp` (required), `nbf`, then the
   * audience with `audienceMatches` (any of the token's audiences may match).
   */
  async verify(token: string, audienceMatches: (audience: string) => boolean): Promise<TokenCheck> {
    let reason = 'the token is not signed with an access key of this service';
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'] });
        const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
        if (!audiences.some(audienceMatches)) {
          return {
            ok: false,
            reason: `the token's audience (${audiences.join(', ') || 'none'}) is not this URL`,
          };
        }
        return { ok: true, claims: payload };
      } catch (error) {
        if (error instanceof errors.JWSSignatureVerificationFailed) continue;
        if (error instanceof errors.JWTExpired) return { ok: false, reason: 'the token expired' };
        if (error instanceof errors.JWTClaimValidationFailed)
          return { ok: false, reason: `the token's ${error.claim} claim is invalid: ${error.reason}` };
        reason = `the token is not a valid HS256 JWT (${(error as Error).message})`;
        if (!(error instanceof errors.JOSEError)) break;
        if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) break;
        if (error instanceof errors.JOSEAlgNotAllowed) break;
      }
    }
    return { ok: false, reason };
  }
}

/** The user id of client token claims: `nameid`, then the name-identifier claim, then `sub`. */
export function userIdOf(claims: JWTPayload): string | undefined {
  for (const key of ['nameid', NAME_IDENTIFIER, 'sub']) {
    const value = claims[key];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/** The bearer token of an `Authorization` header, if it has one. */
export function bearerOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}
