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
  -h, --help             print this and exit
`;

/** The outcome of parsing flags: options to start with, help, or an error text. */
export type ParsedArgs =
  | { kind: 'run'; options: Required<Omit<ConformanceOptions, 'jwtSecret'>> & { jwtSecret?: string } }
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
