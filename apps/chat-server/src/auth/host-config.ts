/**
 * The configuration of the host app's tokens (issue #15): the chat accepts tokens that the host
 * app (or its identity provider) signs, beside its own accounts.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `AUTH_ISSUER` | (none: host tokens off) | the host's token issuer (`iss`); required for host tokens; its `sub`s are the server API's user ids |
 * | `AUTH_JWKS_URL` | `AUTH_ISSUER` + `/.well-known/openid-configuration`'s `jwks_uri` | the JSON Web Key Set of RS256/ES256 tokens |
 * | `AUTH_HS256_SECRET` | (none) | a secret shared with the host app for HS256 tokens (32+ characters, not `JWT_SECRET`) |
 * | `AUTH_AUDIENCE` | (unchecked) | the `aud` host tokens must carry |
 * | `AUTH_CLAIM_NAME` | `name` | the claim holding the display name |
 * | `AUTH_CLAIM_ROLE` | `role` | the claim holding the role (`user`, `agent`, `admin`) |
 * | `AUTH_JWKS_COOLDOWN_MS` | 30000 | the shortest time between two fetches of the key set (an unknown `kid` refetches it) |
 * @module
 */
import { ChatError } from '../errors.js';

/** Host tokens' settings. */
export interface HostAuthConfig {
  /** The `iss` host tokens carry; their `sub`s live in this namespace. */
  readonly issuer: string;
  /** The JWKS URL; absent with a secret only, or to discover it from the issuer. */
  readonly jwksUrl: string | undefined;
  /** Discover the JWKS from `issuer` + `/.well-known/openid-configuration`. */
  readonly discover: boolean;
  readonly hs256Secret: string | undefined;
  readonly audience: string | undefined;
  readonly claimName: string;
  readonly claimRole: string;
  readonly jwksCooldownMs: number;
}

/**
 * Reads the `AUTH_*` variables: undefined when host tokens are off (none of them set). Throws
 * `SB_CHAT_CONFIG_INVALID` naming the variable at fault.
 */
export function loadHostAuthConfig(
  env: NodeJS.ProcessEnv,
  jwtSecret: string | undefined,
): HostAuthConfig | undefined {
  const text = (name: string): string | undefined => env[name]?.trim() || undefined;
  const issuer = text('AUTH_ISSUER');
  const jwksUrl = text('AUTH_JWKS_URL');
  const hs256Secret = text('AUTH_HS256_SECRET');
  const audience = text('AUTH_AUDIENCE');
  const claimName = text('AUTH_CLAIM_NAME');
  const claimRole = text('AUTH_CLAIM_ROLE');
  const cooldown = text('AUTH_JWKS_COOLDOWN_MS');
  const any = [issuer, jwksUrl, hs256Secret, audience, claimName, claimRole, cooldown].some(
    (v) => v !== undefined,
  );
  if (!any) return undefined;
  if (issuer === undefined) {
    throw invalid('AUTH_ISSUER', 'is required for host tokens (AUTH_* variables are set)');
  }
  if (jwksUrl !== undefined && !/^https?:\/\/[^/?#]+/.test(jwksUrl)) {
    throw invalid('AUTH_JWKS_URL', 'must be an http(s) URL');
  }
  const discover = jwksUrl === undefined && hs256Secret === undefined;
  if (discover && !/^https?:\/\/[^/?#]+/.test(issuer)) {
    throw invalid(
      'AUTH_ISSUER',
      'must be an http(s) URL to discover its keys (or set AUTH_JWKS_URL or AUTH_HS256_SECRET)',
    );
  }
  if (hs256Secret !== undefined) {
    if (hs256Secret.length < 32) throw invalid('AUTH_HS256_SECRET', 'must have at least 32 characters');
    if (hs256Secret === jwtSecret) throw invalid('AUTH_HS256_SECRET', 'must differ from JWT_SECRET');
  }
  for (const [name, value] of [
    ['AUTH_CLAIM_NAME', claimName],
    ['AUTH_CLAIM_ROLE', claimRole],
  ] as const) {
    if (value !== undefined && !/^[\w.:/-]{1,200}$/.test(value)) throw invalid(name, 'must be a claim name');
  }
  let jwksCooldownMs = 30_000;
  if (cooldown !== undefined) {
    jwksCooldownMs = Number(cooldown);
    if (!Number.isInteger(jwksCooldownMs) || jwksCooldownMs < 0 || jwksCooldownMs > 86_400_000) {
      throw invalid('AUTH_JWKS_COOLDOWN_MS', `must be an integer from 0 to 86400000, got '${cooldown}'`);
    }
  }
  return {
    issuer,
    jwksUrl,
    discover,
    hs256Secret,
    audience,
    claimName: claimName ?? 'name',
    claimRole: claimRole ?? 'role',
    jwksCooldownMs,
  };
}

function invalid(name: string, reason: string): ChatError {
  return new ChatError('SB_CHAT_CONFIG_INVALID', `${name} ${reason}.`, { field: name });
}
