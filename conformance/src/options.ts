/**
 * Command-line flags of the conformance server.
 * @module
 */
import { parseArgs } from 'node:util';

/** Settings of a conformance server (what the flags set). */
export interface ConformanceOptions {
  /** TCP port; 0 picks a free one. Default 3000 (the CLI) or 0 (`startConformanceServer`). */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * HS256 secret for `/generateJwtToken` and for validating bearer tokens. Default: random per
   * process, so tokens only work against the process that issued them.
   */
  jwtSecret?: string;
  /** Lifetime of tokens from `/generateJwtToken`, seconds. Default 5, as the reference app. */
  tokenLifetimeSeconds?: number;
  /**
   * How long a user whose last connection closed stays online before `Presence(user, false)`
   * (the server's `presenceGraceMs`; 0 is at once). Default the server's, 5,000 ms.
   */
  presenceGraceMs?: number;
  /**
   * Invocations per second allowed to each connection, in bursts of as many (the hubs'
   * `rateLimit: { perConnection: { rate: N, burst: N }, perUser: false }`). Default: no limit.
   */
  rateLimit?: number;
  /**
   * Negotiates per second allowed to each client IP, in bursts of as many (the server's
   * `negotiateRateLimit: { perSecond: N, burst: N }`). Default: no limit.
   */
  negotiateRate?: number;
  /**
   * The most connections one user may hold (the server's `maxConnectionsPerUser`); more get 429
   * "Too many connections for this user." at negotiate. Default: no cap.
   */
  maxConnectionsPerUser?: number;
}

/** The usage text printed for `--help` and after a bad flag. */
export const USAGE = `Usage: node conformance/dist/main.js [options]

Serves the SignalR reference functional-test endpoints (see conformance/README.md).

Options:
  --port N               TCP port, 0 for a free one (default 3000)
  --host H               interface to listen on (default 127.0.0.1)
  --jwt-secret S         HS256 secret for issued and accepted tokens
                         (default: env JWT_SECRET, else random per process)
  --token-lifetime-s N   lifetime of /generateJwtToken tokens in seconds (default 5)
  --presence-grace-ms N  how long a user stays online after their last connection,
                         in ms (default 5000; 0 for at once)
  --rate-limit N         N invocations per second per connection, bursts of N
                         (default: no limit)
  --negotiate-rate N     N negotiates per second per client IP, bursts of N
                         (default: no limit)
  --max-connections-per-user N
                         the most connections one user may hold (default: no cap)
  -h, --help             print this and exit
`;

/** The outcome of parsing flags: options to start with, help, or an error text. */
export type ParsedArgs =
  | {
      kind: 'run';
      options: Required<Pick<ConformanceOptions, 'port' | 'host' | 'tokenLifetimeSeconds'>> &
        Omit<ConformanceOptions, 'port' | 'host' | 'tokenLifetimeSeconds'>;
    }
  | { kind: 'help' }
  | { kind: 'error'; message: string };

/** Parses the CLI flags; `env` supplies `JWT_SECRET` when `--jwt-secret` is absent. */
export function parseConformanceArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'jwt-secret': { type: 'string' },
        'token-lifetime-s': { type: 'string' },
        'presence-grace-ms': { type: 'string' },
        'rate-limit': { type: 'string' },
        'negotiate-rate': { type: 'string' },
        'max-connections-per-user': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
  if (values.help) return { kind: 'help' };

  const port = integerFlag('--port', values.port as string | undefined, 3000, 0, 65_535);
  if (typeof port === 'string') return { kind: 'error', message: port };
  const lifetime = integerFlag(
    '--token-lifetime-s',
    values['token-lifetime-s'] as string | undefined,
    5,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  if (typeof lifetime === 'string') return { kind: 'error', message: lifetime };
  const limits: Pick<
    ConformanceOptions,
    'presenceGraceMs' | 'rateLimit' | 'negotiateRate' | 'maxConnectionsPerUser'
  > = {};
  for (const [flag, key, min] of [
    ['--presence-grace-ms', 'presenceGraceMs', 0],
    ['--rate-limit', 'rateLimit', 1],
    ['--negotiate-rate', 'negotiateRate', 1],
    ['--max-connections-per-user', 'maxConnectionsPerUser', 1],
  ] as const) {
    const raw = values[flag.slice(2)] as string | undefined;
    if (raw === undefined) continue;
    const value = integerFlag(flag, raw, 0, min, Number.MAX_SAFE_INTEGER);
    if (typeof value === 'string') return { kind: 'error', message: value };
    limits[key] = value;
  }
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  if (host.length === 0) return { kind: 'error', message: '--host must not be empty.' };
  const secret = (values['jwt-secret'] as string | undefined) ?? env.JWT_SECRET;
  if (secret !== undefined && secret.length === 0) {
    return { kind: 'error', message: '--jwt-secret (or JWT_SECRET) must not be empty.' };
  }
  return {
    kind: 'run',
    options: {
      port,
      host,
      tokenLifetimeSeconds: lifetime,
      ...(secret !== undefined ? { jwtSecret: secret } : {}),
      ...limits,
    },
  };
}

function integerFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number | string {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return `${name} must be an integer from ${min} to ${max}, got '${raw}'.`;
  }
  return value;
}
