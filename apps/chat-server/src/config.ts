/**
 * The chat server's configuration, read from environment variables. The names are a contract:
 * they are added to, never renamed (issue #6).
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `PORT` | 3000 | HTTP port |
 * | `HOST` | (all interfaces) | address to listen on |
 * | `DATA_DIR` | `./data` | where the SQLite file lives |
 * | `DATABASE_URL` | (none: SQLite) | PostgreSQL storage |
 * | `DATABASE_SCHEMA` | `public` | PostgreSQL schema to use (created when absent) |
 * | `REDIS_URL` | | Redis backplane and presence store (needs `DATABASE_URL`) |
 * | `BACKPLANE` | `none` | `none`, `redis`, `postgres` or `nats` |
 * | `BACKPLANE_URL` | `DATABASE_URL` (postgres), `NATS_URL` (nats) | the backplane's connection: PostgreSQL (`BACKPLANE=postgres`: hub and presence in the schema named after `BACKPLANE_PREFIX`) or NATS with JetStream (`BACKPLANE=nats`) |
 * | `NATS_URL` | | NATS backplane connection when `BACKPLANE_URL` is not set (`BACKPLANE=nats`) |
 * | `BACKPLANE_PREFIX` | `switchboard` | key/channel prefix of the backplane |
 * | `NODE_ID` | hostname-pid | this node's id (with `WORKERS`, worker k is `<NODE_ID>-<k>`) |
 * | `WORKERS` | 1 (`npm start`: `auto`) | worker processes sharing the port, each a node, joined by the in-box bus (or the backplane); `auto`: one per available core |
 * | `ADVERTISE_URL` | the address each negotiate came in on | with a backplane, the base URL (`http://10.0.0.5:3000`) the other nodes forward a connection's requests to (no sticky sessions; the hops are signed with the JWT secret) |
 * | `JWT_SECRET` | (generated once, kept in storage) | HS256 secret, at least 16 characters |
 * | `ALLOWED_ORIGINS` | (none) | comma-separated browser origins allowed cross-origin, or `*` |
 * | `TRUST_PROXY` | false | take the client IP from `X-Forwarded-For` |
 * | `MESSAGE_RATE_LIMIT` | 10 | messages per second per user (burst the same) |
 * | `MAX_MESSAGE_LENGTH` | 4000 | characters per message |
 * | `MAX_ROOMS_PER_USER` | 100 | rooms a user may own |
 * | `AGENT_CAPACITY` | 5 | support requests one agent handles at once |
 * | `LOGIN_RATE_LIMIT` | 10 | login attempts per minute per IP |
 * | `GUEST_RATE_LIMIT` | 5 | guest creations per minute per IP |
 * | `TYPING_RATE_LIMIT` | 2 | typing notices per second per user (burst 3×); more are dropped |
 * | `PRESENCE_GRACE_MS` | 5000 | how long a user whose last connection left still counts as online |
 * | `BACKPLANE_LAG_PROBE_MS` | 5000 | with a backplane, how often each node sends a lag probe through it (0: never) |
 * | `LOG_LEVEL` | `info` | pino level (`silent` … `debug`) |
 * | `MAX_CONNECTIONS_PER_USER` | 20 | hub connections one user holds on one node (with `WORKERS`: on the machine) (0: no cap) |
 * | `NEGOTIATE_RATE_LIMIT` | 120 | negotiates per minute per client IP, burst the same (0: off) |
 * | `REGISTER_RATE_LIMIT` | 20 | registrations per hour per client IP, burst the same (0: off) |
 * | `INVOKE_RATE_LIMIT` | 30 | hub invocations per second per user and per connection, burst 10× (typing apart; 0: off) |
 * | `MAX_SOCKETS_PER_IP` | 200 | open sockets (HTTP and WebSocket) per client IP on this node (with `WORKERS`: on the machine) (0: no cap) |
 * | `LOGIN_ACCOUNT_LIMIT` | 5 | failed logins of one account (from addresses it never signed in from) before each further attempt waits, doubling from 1 s (0: off) |
 * | `LOGIN_BACKOFF_MAX_SECONDS` | 900 | the longest such wait |
 * | `METRICS_TOKEN` | (none: `/metrics` refused) | bearer token that `GET /metrics` requires (16+ characters) |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | (none) | OpenTelemetry: traces and metrics over OTLP through `@opentelemetry/sdk-node`; the SDK reads the other standard `OTEL_*` variables (`OTEL_SERVICE_NAME`, default `switchboard-chat`; `OTEL_SDK_DISABLED`; docs/server.md) |
 * | `FRAME_ANCESTORS` | `'none'` | the web app's CSP `frame-ancestors` sources |
 * | `ATTACHMENTS_DIR` | `DATA_DIR/attachments` (SQLite), the database (PostgreSQL) | a directory for attachments' bytes (shared by every node when set with `DATABASE_URL`) |
 * | `MAX_ATTACHMENT_BYTES` | 10485760 (10 MiB) | the largest file one upload may carry |
 * | `MAX_ATTACHMENT_BYTES_PER_DAY` | 209715200 (200 MiB) | what one user may upload in 24 hours |
 * | `AUTH_ISSUER`, `AUTH_JWKS_URL`, `AUTH_HS256_SECRET`, `AUTH_AUDIENCE`, `AUTH_CLAIM_NAME`, `AUTH_CLAIM_ROLE`, `AUTH_JWKS_COOLDOWN_MS` | (host tokens off) | the host app's tokens, see auth/host-config.ts |
 * | `WEBHOOK_URL` | (none) | an endpoint that receives the webhooks (more: `add-webhook`) |
 * | `WEBHOOK_SECRET` | (none) | its signing secret, `whsec_` + base64 of 24 to 64 bytes (Standard Webhooks) |
 * @module
 */
import { hostname } from 'node:os';
import { type HostAuthConfig, loadHostAuthConfig } from './auth/host-config.js';
import { ChatError } from './errors.js';
import { readWebhookConfig } from './webhooks/config.js';

/** Which backplane links the nodes. */
export type BackplaneKind = 'none' | 'redis' | 'postgres' | 'nats';

/** The parsed configuration. */
export interface ChatConfig {
  readonly port: number;
  readonly host: string | undefined;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly databaseSchema: string;
  readonly backplane: BackplaneKind;
  readonly redisUrl: string | undefined;
  readonly backplaneUrl: string | undefined;
  readonly backplanePrefix: string;
  readonly nodeId: string;
  /** Worker processes sharing the port (1: one process, no workers). */
  readonly workers: number | 'auto';
  /** With a backplane: where the other nodes reach this one (`ADVERTISE_URL`). */
  readonly advertiseUrl: string | undefined;
  readonly jwtSecret: string | undefined;
  readonly allowedOrigins: readonly string[];
  readonly trustProxy: boolean;
  readonly messageRateLimit: number;
  readonly maxMessageLength: number;
  readonly maxRoomsPerUser: number;
  readonly agentCapacity: number;
  readonly loginRateLimit: number;
  readonly guestRateLimit: number;
  /** Typing notices per second per user (burst 3 times that); beyond it they are dropped. */
  readonly typingRateLimit: number;
  /** How long a user whose last connection left stays online (reloads emit no presence events). */
  readonly presenceGraceMs: number;
  /** With a backplane, how often each node probes its lag (`/metrics`); 0 turns probing off. */
  readonly backplaneLagProbeMs: number;
  readonly logLevel: string;
  /** Hub connections per user on this node; 0: no cap. */
  readonly maxConnectionsPerUser: number;
  /** Negotiates per minute per client IP (burst the same); 0: off. */
  readonly negotiateRateLimit: number;
  /** Registrations per hour per client IP (burst the same), shared by every node; 0: off. */
  readonly registerRateLimit: number;
  /** Hub invocations per second per user and per connection (burst 10×), typing apart; 0: off. */
  readonly invokeRateLimit: number;
  /** Open sockets (HTTP and WebSocket) per client IP on this node; 0: no cap. */
  readonly maxSocketsPerIp: number;
  /** Failed logins of one account before each further attempt waits (doubling); 0: off. */
  readonly loginAccountLimit: number;
  /** The longest wait of the per-account login backoff, in seconds. */
  readonly loginBackoffMaxSeconds: number;
  /** The bearer token `/metrics` requires; without one `/metrics` is refused. */
  readonly metricsToken: string | undefined;
  /** The CSP `frame-ancestors` sources of the web app. */
  readonly frameAncestors: string;
  /** Where attachments' bytes live instead of the default (see storage/attachments.ts). */
  readonly attachmentsDir: string | undefined;
  /** The largest attachment, in bytes. */
  readonly maxAttachmentBytes: number;
  /** What one user may upload in 24 hours, in bytes. */
  readonly maxAttachmentBytesPerDay: number;
  /** The host app's tokens (`AUTH_*`, see auth/host-config.ts); absent: only the chat's own. */
  readonly hostAuth?: HostAuthConfig | undefined;
  /** The endpoint of `WEBHOOK_URL`, if any. */
  readonly webhookUrl?: string | undefined;
  /** Its secret (`WEBHOOK_SECRET`, `whsec_...`). */
  readonly webhookSecret?: string | undefined;
}

const LOG_LEVELS = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * Reads and checks the configuration. Throws a {@link ChatError} `SB_CHAT_CONFIG_INVALID` naming the
 * variable at fault; refuses a backplane over SQLite storage (several nodes need shared storage).
 *
 * @example
 * ```ts
 * const config = loadConfig({ ...process.env, PORT: '0' });
 * ```
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ChatConfig {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalid(name, `must be an integer from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  };
  const redisUrl = text('REDIS_URL');
  const databaseUrl = text('DATABASE_URL');
  const backplaneName = (text('BACKPLANE') ?? (redisUrl ? 'redis' : 'none')).toLowerCase();
  if (!['none', 'redis', 'postgres', 'nats'].includes(backplaneName)) {
    throw invalid('BACKPLANE', `must be 'none', 'redis', 'postgres' or 'nats', got '${backplaneName}'`);
  }
  const backplane = backplaneName as BackplaneKind;
  if (backplane === 'redis' && !redisUrl) throw invalid('REDIS_URL', 'is required with BACKPLANE=redis');
  const backplaneUrl =
    text('BACKPLANE_URL') ??
    (backplane === 'postgres' ? databaseUrl : backplane === 'nats' ? text('NATS_URL') : undefined);
  if (backplane === 'postgres' && !backplaneUrl) {
    throw invalid('BACKPLANE_URL', 'is required with BACKPLANE=postgres (or set DATABASE_URL)');
  }
  if (backplane === 'nats' && !backplaneUrl) {
    throw invalid('BACKPLANE_URL', 'is required with BACKPLANE=nats (or set NATS_URL)');
  }
  if (backplane !== 'none' && !databaseUrl) {
    throw new ChatError(
      'SB_CHAT_CONFIG_INVALID',
      `A backplane (${backplane === 'redis' ? 'REDIS_URL' : `BACKPLANE=${backplane}`}) means several nodes, and several nodes need shared storage: set DATABASE_URL to a PostgreSQL database. SQLite storage serves one node only.`,
    );
  }
  for (const [name, url] of [
    ['DATABASE_URL', databaseUrl],
    ['BACKPLANE_URL', text('BACKPLANE_URL')],
    ['NATS_URL', text('NATS_URL')],
    ['REDIS_URL', redisUrl],
  ] as const) {
    if (url !== undefined && !URL.canParse(url)) throw invalid(name, 'is not a URL');
  }
  const workersText = (text('WORKERS') ?? '1').toLowerCase();
  const workers = workersText === 'auto' ? 'auto' : Number(workersText);
  if (workers !== 'auto' && (!Number.isInteger(workers) || workers < 1 || workers > 1_024))
    throw invalid('WORKERS', `must be 'auto' or an integer from 1 to 1024, got '${workersText}'`);
  const advertiseUrl = text('ADVERTISE_URL');
  if (advertiseUrl !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(advertiseUrl))
    throw invalid('ADVERTISE_URL', 'must be http://host:port or https://host:port');
  const jwtSecret = text('JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 16)
    throw invalid('JWT_SECRET', 'must have at least 16 characters');
  const schema = text('DATABASE_SCHEMA') ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw invalid('DATABASE_SCHEMA', 'must be a lower-case SQL identifier');
  const logLevel = (text('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) throw invalid('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const trust = (text('TRUST_PROXY') ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(trust))
    throw invalid('TRUST_PROXY', 'must be true or false');
  const origins = (text('ALLOWED_ORIGINS') ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter((o) => o.length > 0);
  for (const origin of origins) {
    if (origin !== '*' && !URL.canParse(origin))
      throw invalid('ALLOWED_ORIGINS', `'${origin}' is not an origin`);
  }
  const metricsToken = text('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16)
    throw invalid('METRICS_TOKEN', 'must have at least 16 characters');
  const frameAncestors = text('FRAME_ANCESTORS') ?? "'none'";
  if (/[;,\r\n]/.test(frameAncestors))
    throw invalid('FRAME_ANCESTORS', 'must be CSP sources separated by spaces');
  return {
    port: int('PORT', 3000, 0, 65_535),
    host: text('HOST'),
    dataDir: text('DATA_DIR') ?? './data',
    databaseUrl,
    databaseSchema: schema,
    backplane,
    redisUrl,
    backplaneUrl,
    backplanePrefix: text('BACKPLANE_PREFIX') ?? 'switchboard',
    nodeId: text('NODE_ID') ?? `${hostname()}-${process.pid}`,
    workers,
    advertiseUrl,
    jwtSecret,
    allowedOrigins: origins,
    trustProxy: ['true', '1', 'yes'].includes(trust),
    messageRateLimit: int('MESSAGE_RATE_LIMIT', 10, 1, 100_000),
    maxMessageLength: int('MAX_MESSAGE_LENGTH', 4_000, 1, 1_000_000),
    maxRoomsPerUser: int('MAX_ROOMS_PER_USER', 100, 1, 1_000_000),
    agentCapacity: int('AGENT_CAPACITY', 5, 1, 10_000),
    loginRateLimit: int('LOGIN_RATE_LIMIT', 10, 1, 1_000_000),
    guestRateLimit: int('GUEST_RATE_LIMIT', 5, 1, 1_000_000),
    maxConnectionsPerUser: int('MAX_CONNECTIONS_PER_USER', 20, 0, 1_000_000),
    negotiateRateLimit: int('NEGOTIATE_RATE_LIMIT', 120, 0, 1_000_000),
    registerRateLimit: int('REGISTER_RATE_LIMIT', 20, 0, 1_000_000),
    invokeRateLimit: int('INVOKE_RATE_LIMIT', 30, 0, 1_000_000),
    maxSocketsPerIp: int('MAX_SOCKETS_PER_IP', 200, 0, 1_000_000),
    loginAccountLimit: int('LOGIN_ACCOUNT_LIMIT', 5, 0, 1_000),
    loginBackoffMaxSeconds: int('LOGIN_BACKOFF_MAX_SECONDS', 900, 1, 86_400),
    metricsToken,
    frameAncestors,
    attachmentsDir: text('ATTACHMENTS_DIR'),
    maxAttachmentBytes: int('MAX_ATTACHMENT_BYTES', 10 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    maxAttachmentBytesPerDay: int('MAX_ATTACHMENT_BYTES_PER_DAY', 200 * 1024 * 1024, 1, 2 ** 50),
    typingRateLimit: int('TYPING_RATE_LIMIT', 2, 1, 1_000),
    presenceGraceMs: int('PRESENCE_GRACE_MS', 5_000, 0, 3_600_000),
    backplaneLagProbeMs: int('BACKPLANE_LAG_PROBE_MS', 5_000, 0, 3_600_000),
    logLevel,
    hostAuth: loadHostAuthConfig(env, jwtSecret),
    ...readWebhookConfig(text),
  };
}

function invalid(name: string, reason: string): ChatError {
  return new ChatError('SB_CHAT_CONFIG_INVALID', `${name} ${reason}.`, { field: name });
}
