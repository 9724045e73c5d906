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
  /** The server's `requestHeadersTimeoutMs`: half-sent request headers get 408 after it. Default 30,000. */
  requestHeadersTimeoutMs?: number;
  /** The server's `requestBodyTimeoutMs`: a hub request's half-sent body gets 408 after it. Default 30,000. */
  requestBodyTimeoutMs?: number;
  /** The server's `maxSocketsPerIp`: sockets one address may hold open. Default: no cap. */
  maxSocketsPerIp?: number;
  /** The server's `trustProxy` as a number of proxy hops (X-Forwarded-For). Default: none. */
  trustProxy?: number;
  /** The hubs' `maxQueuedInvocations` (invocations of one connection waiting for a slot). Default 32. */
  maxQueuedInvocations?: number;
  /** The hubs' `maxMessagesPerTurn` (messages of one connection per turn of the event loop). Default 64. */
  maxMessagesPerTurn?: number;
  /**
   * A Redis backplane (`redis://host:port`): processes given the same Redis, prefix and JWT secret
   * form one cluster: sends, groups, users, client results and presence span every node. Default:
   * none (one node). Env `REDIS_URL`.
   */
  redis?: string;
  /**
   * A PostgreSQL backplane (`postgres://…`): as `redis`, on PostgreSQL; the schema is derived
   * from `prefix` (`schemaFromPrefix`). Default: none. Env `BACKPLANE=postgres` with
   * `BACKPLANE_URL` or `DATABASE_URL`.
   */
  postgres?: string;
  /**
   * A NATS JetStream backplane (`nats://host:port`): as `redis`, on NATS (nats-server 2.9 or later
   * with JetStream). Default: none. Env `BACKPLANE=nats` with `BACKPLANE_URL` or `NATS_URL`.
   */
  nats?: string;
  /**
   * The base URL (`http://10.0.0.5:3000`) at which the other nodes reach this one, for requests
   * forwarded to the node that holds their connection (the server's `advertiseUrl`; the cluster
   * secret is the JWT secret). Default: the address and port each negotiate came in on. Env
   * `ADVERTISE_URL`.
   */
  advertiseUrl?: string;
  /** This node's id in the cluster. Default: random per process. Env `NODE_ID`. */
  nodeId?: string;
  /** Prefix of the backplane's keys and channels, to keep clusters apart. Default `switchboard:`. Env `BACKPLANE_PREFIX`. */
  prefix?: string;
  /** How long a node that stopped heartbeating keeps its presence (ms). Default 15,000. Env `LEASE_MS`. */
  leaseMs?: number;
  /**
   * Accept stateful reconnects (the server's `allowStatefulReconnects`): a WebSocket client built
   * `withStatefulReconnect()` that loses its socket resumes the same connection and nothing sent
   * either way is lost. Default false, as the reference app.
   */
  statefulReconnect?: boolean;
  /**
   * Serve HTTPS too, on a second port, with a self-signed certificate made at start (localhost,
   * 127.0.0.1, ::1), as the reference app serves both; the official functional tests' HTTPS cells
   * need it. Default false.
   */
  https?: boolean;
  /** The HTTPS port (0 picks a free one). Default 0. Only with `https`. */
  httpsPort?: number;
  /**
   * Where to write the certificate (PEM) once made, for clients to trust
   * (`NODE_EXTRA_CA_CERTS=<file>`). Default: not written. Only with `https`.
   */
  httpsCertFile?: string;
  /**
   * Worker processes sharing the port (`clusterize`): each a node `<node-id>-<k>`, joined by the
   * in-box bus, or by the backplane when one is given. `auto`: one per available core. Default 1
   * (one process, no workers).
   */
  workers?: number | 'auto';
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
  --request-headers-timeout-ms N
                         half-sent request headers get 408 after N ms (default 30000)
  --request-body-timeout-ms N
                         a hub request's half-sent body gets 408 after N ms (default 30000)
  --max-sockets-per-ip N the most sockets one client address may hold open (default: no cap)
  --trust-proxy N        N proxy hops name the client in X-Forwarded-For (default: none)
  --max-queued-invocations N
                         invocations of one connection that may wait for a slot before it
                         is no longer read (default 32)
  --max-messages-per-turn N
                         messages of one connection handled per turn of the event loop
                         (default 64)
  --redis URL            join a cluster on this Redis (env REDIS_URL; default: one node)
  --postgres URL         join a cluster on this PostgreSQL database (env BACKPLANE=postgres
                         with BACKPLANE_URL or DATABASE_URL; default: one node)
  --nats URL             join a cluster on this NATS with JetStream (env BACKPLANE=nats
                         with BACKPLANE_URL or NATS_URL; default: one node)
  --node-id ID           this node's id in the cluster (env NODE_ID; default random)
  --advertise-url URL    where the other nodes reach this one, for requests they forward
                         to the node that holds the connection (env ADVERTISE_URL;
                         default: the address each negotiate came in on); in a cluster
                         the JWT secret signs tokens and hops
  --prefix P             key and channel prefix of the cluster (env BACKPLANE_PREFIX;
                         default switchboard:); on PostgreSQL it names the schema
  --lease-ms N           how long a silent node keeps its presence, ms (env LEASE_MS;
                         default 15000, at most 15000)
  --stateful-reconnect   accept stateful reconnects (default: off, as the reference app)
  --https                serve HTTPS too, on a second port, with a self-signed certificate
                         made at start (prints a second "Now listening on: https://..." line)
  --https-port N         the HTTPS port, 0 for a free one (default 0)
  --https-cert-file F    write the certificate (PEM) to F, for clients to trust
                         (NODE_EXTRA_CA_CERTS=F)
  --workers N            N worker processes sharing the port, each a node <node-id>-<k>,
                         joined by the in-box bus (or the backplane given); auto: one per
                         available core (default 1: one process)
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
        'request-headers-timeout-ms': { type: 'string' },
        'request-body-timeout-ms': { type: 'string' },
        'max-sockets-per-ip': { type: 'string' },
        'trust-proxy': { type: 'string' },
        'max-queued-invocations': { type: 'string' },
        'max-messages-per-turn': { type: 'string' },
        redis: { type: 'string' },
        postgres: { type: 'string' },
        nats: { type: 'string' },
        'node-id': { type: 'string' },
        'advertise-url': { type: 'string' },
        prefix: { type: 'string' },
        'lease-ms': { type: 'string' },
        'stateful-reconnect': { type: 'boolean' },
        https: { type: 'boolean' },
        'https-port': { type: 'string' },
        'https-cert-file': { type: 'string' },
        workers: { type: 'string' },
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
    | 'presenceGraceMs'
    | 'rateLimit'
    | 'negotiateRate'
    | 'maxConnectionsPerUser'
    | 'requestHeadersTimeoutMs'
    | 'requestBodyTimeoutMs'
    | 'maxSocketsPerIp'
    | 'trustProxy'
    | 'maxQueuedInvocations'
    | 'maxMessagesPerTurn'
  > = {};
  for (const [flag, key, min] of [
    ['--presence-grace-ms', 'presenceGraceMs', 0],
    ['--rate-limit', 'rateLimit', 1],
    ['--negotiate-rate', 'negotiateRate', 1],
    ['--max-connections-per-user', 'maxConnectionsPerUser', 1],
    ['--request-headers-timeout-ms', 'requestHeadersTimeoutMs', 1],
    ['--request-body-timeout-ms', 'requestBodyTimeoutMs', 1],
    ['--max-sockets-per-ip', 'maxSocketsPerIp', 1],
    ['--trust-proxy', 'trustProxy', 1],
    ['--max-queued-invocations', 'maxQueuedInvocations', 1],
    ['--max-messages-per-turn', 'maxMessagesPerTurn', 1],
  ] as const) {
    const raw = values[flag.slice(2)] as string | undefined;
    if (raw === undefined) continue;
    const value = integerFlag(flag, raw, 0, min, Number.MAX_SAFE_INTEGER);
    if (typeof value === 'string') return { kind: 'error', message: value };
    limits[key] = value;
  }
  const cluster: Pick<
    ConformanceOptions,
    'redis' | 'postgres' | 'nats' | 'nodeId' | 'prefix' | 'leaseMs' | 'advertiseUrl'
  > = {};
  const text = (flag: string, envName: string) => (values[flag] as string | undefined) ?? env[envName];
  for (const [flag, envName, key] of [
    ['redis', 'REDIS_URL', 'redis'],
    ['node-id', 'NODE_ID', 'nodeId'],
    ['prefix', 'BACKPLANE_PREFIX', 'prefix'],
    ['advertise-url', 'ADVERTISE_URL', 'advertiseUrl'],
  ] as const) {
    const value = text(flag, envName);
    if (value === undefined) continue;
    if (value.length === 0) return { kind: 'error', message: `--${flag} (or ${envName}) must not be empty.` };
    cluster[key] = value;
  }
  if (cluster.advertiseUrl !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(cluster.advertiseUrl)) {
    return {
      kind: 'error',
      message: `--advertise-url (or ADVERTISE_URL) must be http://host:port or https://host:port, got '${cluster.advertiseUrl}'.`,
    };
  }
  const lease = text('lease-ms', 'LEASE_MS');
  if (lease !== undefined) {
    const value = integerFlag('--lease-ms', lease, 0, 100, 15_000);
    if (typeof value === 'string') return { kind: 'error', message: value };
    cluster.leaseMs = value;
  }
  const postgres = postgresUrl(values.postgres as string | undefined, env);
  if (postgres.error !== undefined) return { kind: 'error', message: postgres.error };
  if (postgres.url !== undefined) {
    if (values.redis !== undefined)
      return { kind: 'error', message: '--redis and --postgres exclude each other.' };
    // BACKPLANE=postgres chooses PostgreSQL even when REDIS_URL is set for something else.
    delete cluster.redis;
    cluster.postgres = postgres.url;
  }
  const nats = backplaneUrl('nats', ['NATS_URL'], values.nats as string | undefined, env);
  if (nats.error !== undefined) return { kind: 'error', message: nats.error };
  if (nats.url !== undefined) {
    if (values.redis !== undefined || cluster.postgres !== undefined)
      return { kind: 'error', message: '--nats excludes --redis and --postgres.' };
    // BACKPLANE=nats chooses NATS even when REDIS_URL is set for something else.
    delete cluster.redis;
    cluster.nats = nats.url;
  }
  let workers: number | 'auto' | undefined;
  const rawWorkers = values.workers as string | undefined;
  if (rawWorkers !== undefined) {
    if (rawWorkers === 'auto') workers = 'auto';
    else {
      const value = integerFlag('--workers', rawWorkers, 1, 1, 1_024);
      if (typeof value === 'string') return { kind: 'error', message: `${value.slice(0, -1)} (or auto).` };
      workers = value;
    }
  }
  if (
    cluster.redis === undefined &&
    cluster.postgres === undefined &&
    cluster.nats === undefined &&
    (workers === undefined || workers === 1) &&
    Object.keys(cluster).length > 0
  ) {
    return {
      kind: 'error',
      message:
        '--node-id, --prefix, --lease-ms and --advertise-url need --redis, --postgres or --nats (or REDIS_URL, BACKPLANE=postgres, BACKPLANE=nats), or --workers.',
    };
  }
  const tls: Pick<ConformanceOptions, 'https' | 'httpsPort' | 'httpsCertFile'> = {};
  if (values.https) tls.https = true;
  if (values['https-port'] !== undefined) {
    const value = integerFlag('--https-port', values['https-port'] as string, 0, 0, 65_535);
    if (typeof value === 'string') return { kind: 'error', message: value };
    tls.httpsPort = value;
  }
  const certFile = values['https-cert-file'] as string | undefined;
  if (certFile !== undefined) {
    if (certFile.length === 0) return { kind: 'error', message: '--https-cert-file must not be empty.' };
    tls.httpsCertFile = certFile;
  }
  if (!tls.https && (tls.httpsPort !== undefined || tls.httpsCertFile !== undefined)) {
    return { kind: 'error', message: '--https-port and --https-cert-file need --https.' };
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
      ...(values['stateful-reconnect'] ? { statefulReconnect: true } : {}),
      ...(workers !== undefined ? { workers } : {}),
      ...limits,
      ...cluster,
      ...tls,
    },
  };
}

/**
 * The PostgreSQL backplane's URL: `--postgres`, else with `BACKPLANE=postgres` the env
 * `BACKPLANE_URL` or `DATABASE_URL`. `BACKPLANE` other than `postgres`, `redis`, `nats` or `none`
 * is refused.
 */
function postgresUrl(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { url?: string; error?: string } {
  return backplaneUrl('postgres', ['DATABASE_URL'], flag, env);
}

/**
 * A backplane's URL: its flag, else with `BACKPLANE=<name>` the env `BACKPLANE_URL` or the
 * backend's own variables. `BACKPLANE` other than `postgres`, `redis`, `nats` or `none` is refused.
 */
function backplaneUrl(
  name: 'postgres' | 'nats',
  envNames: readonly string[],
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { url?: string; error?: string } {
  const backplane = env.BACKPLANE?.trim().toLowerCase();
  if (backplane !== undefined && backplane !== '' && !BACKPLANES.includes(backplane)) {
    return { error: `BACKPLANE must be postgres, redis, nats or none, got '${env.BACKPLANE}'.` };
  }
  if (flag !== undefined) {
    return flag.length > 0 ? { url: flag } : { error: `--${name} must not be empty.` };
  }
  if (backplane !== name) return {};
  const url = env.BACKPLANE_URL || envNames.map((n) => env[n]).find((v) => v);
  return url ? { url } : { error: `BACKPLANE=${name} needs BACKPLANE_URL or ${envNames.join(' or ')}.` };
}

/** The values `BACKPLANE` may take. */
const BACKPLANES = ['postgres', 'redis', 'nats', 'none'];

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
