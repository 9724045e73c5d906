/**
 * The example host app's configuration, read from environment variables (see the README's table).
 * @module
 */

/** Everything the host app needs to run beside a chat server. */
export interface HostAppConfig {
  /** Where the app is reached by browsers, e.g. `http://localhost:4000`: the issuer of its tokens and the origin its forms must come from. */
  readonly publicUrl: string;
  /** The chat server, e.g. `http://localhost:3000` (serves `/widget.js` and `/api/v1`). */
  readonly chatUrl: string;
  /** A server API key of the chat (`npm run chat -- create-api-key NAME`); without it the project chat route answers 503. */
  readonly chatApiKey: string | undefined;
  /** The webhook secret (`whsec_…`) the chat signs with; without it `/webhooks` answers 503. */
  readonly webhookSecret: string | undefined;
  /** The `aud` of the chat tokens, when the chat checks one (`AUTH_AUDIENCE` there). */
  readonly audience: string | undefined;
  /** How long a chat token lives, in seconds. */
  readonly tokenTtlSeconds: number;
  /** Signs the session cookie; random at each start when not given (sessions then end on a restart). */
  readonly sessionSecret: string | undefined;
  /** The password of the demo users. */
  readonly demoPassword: string;
}

/** A configuration problem, naming the variable. */
export class HostConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'HostConfigError';
  }
}

/** An http(s) URL without its trailing slash, or a `HostConfigError` naming `variable`. */
export function httpUrl(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new HostConfigError(variable, `'${value}' is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new HostConfigError(variable, 'an http or https URL is needed.');
  if (url.pathname !== '/' || url.search || url.hash)
    throw new HostConfigError(variable, 'give the origin only (scheme, host and port), without a path.');
  return url.origin;
}

/**
 * Reads the configuration from `env`.
 *
 * @example
 * ```ts
 * const config = loadHostConfig({ PORT: '4000', CHAT_URL: 'http://localhost:3000' });
 * config.publicUrl; // 'http://localhost:4000'
 * ```
 */
export function loadHostConfig(env: Record<string, string | undefined>): HostAppConfig & { port: number } {
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new HostConfigError('PORT', `'${env.PORT}' is not a port number.`);
  const ttl = Number(env.CHAT_TOKEN_TTL_SECONDS ?? 600);
  if (!Number.isInteger(ttl) || ttl < 30 || ttl > 86400)
    throw new HostConfigError(
      'CHAT_TOKEN_TTL_SECONDS',
      'a whole number of seconds from 30 to 86400 is needed.',
    );
  const sessionSecret = env.SESSION_SECRET || undefined;
  if (sessionSecret !== undefined && sessionSecret.length < 32)
    throw new HostConfigError('SESSION_SECRET', 'at least 32 characters are needed.');
  const webhookSecret = env.CHAT_WEBHOOK_SECRET || undefined;
  if (webhookSecret !== undefined && !webhookSecret.startsWith('whsec_'))
    throw new HostConfigError('CHAT_WEBHOOK_SECRET', "the chat's secret starts with 'whsec_'.");
  return {
    port,
    publicUrl: httpUrl('HOST_APP_URL', env.HOST_APP_URL ?? `http://localhost:${port}`),
    chatUrl: httpUrl('CHAT_URL', env.CHAT_URL ?? 'http://localhost:3000'),
    chatApiKey: env.CHAT_API_KEY || undefined,
    webhookSecret,
    audience: env.CHAT_AUDIENCE || undefined,
    tokenTtlSeconds: ttl,
    sessionSecret,
    demoPassword: env.DEMO_PASSWORD || 'switchboard-demo',
  };
}
