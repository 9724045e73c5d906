/**
 * Server-wide and per-hub options, their defaults (the reference server's,
 * docs/protocol.md#limits-and-timeouts) and how the two combine.
 * @module
 */

import type { MeterProvider } from '@opentelemetry/api';
import { type HubProtocol, jsonHubProtocol, messagePackHubProtocol } from '@switchboard/protocol';
import type { Authenticator } from './auth/authentication.js';
import { SwitchboardError } from './errors.js';
import type { CorsOptions } from './http/cors.js';
import type { NegotiateRateLimit, TrustProxy } from './http/negotiate-limits.js';
import type { AuthorizationRequirement } from './hubs/authorization.js';
import type { Hub, HubActivator } from './hubs/hub.js';
import type { HubCallerContext } from './hubs/hub-caller-context.js';
import type { HubFilter } from './hubs/hub-filter.js';
import type { RateLimitOptions } from './hubs/rate-limiter.js';
import type { HubLifetimeManager } from './lifetime/hub-lifetime-manager.js';
import type { SharedLimits } from './limits/shared-limits.js';
import type { Logger } from './logger.js';
import type { HubMetrics } from './metrics.js';
import type { PresenceStore } from './presence/presence-store.js';
import type { Backplane } from './scaleout/backplane.js';
import type { TimeProvider } from './time-provider.js';

/** The transports of the SignalR transport protocol. */
export type TransportType = 'WebSockets' | 'ServerSentEvents' | 'LongPolling';

/** What an {@link HubOptions.onConnecting} hook decides for a connection (nothing: it goes on as it is). */
export interface ConnectingOutcome {
  /**
   * The user id the connection goes on with instead of the authenticated one: its
   * `userIdentifier`, the user its sends to `clients.user(id)` reach, and the user presence
   * records. `user` (the principal and its claims) stays the authenticated one.
   */
  readonly userIdentifier?: string;
}

/**
 * Runs for each connection once its handshake is accepted, before the lifetime manager registers
 * it and before the handshake reply (the client is not connected yet). It may refuse the
 * connection by throwing (the client gets a Close message with the error, as for a throwing
 * `onConnected`) or give the user id the connection goes on with. Messages the client sends
 * meanwhile wait. Azure Web PubSub's blocking `connect` event is one use.
 */
export type ConnectingHook = (
  context: HubCallerContext,
) => Promise<ConnectingOutcome | undefined> | ConnectingOutcome | undefined;

/** Options a hub can set for itself; unset ones come from the server's options. */
export interface HubOptions {
  /** Decides on each connection before it is registered and answered (see {@link ConnectingHook}). */
  onConnecting?: ConnectingHook;
  /** Append exception types and messages to error texts sent to clients. Default false. */
  enableDetailedErrors?: boolean;
  /** How long a client has to send its handshake after the transport opens. Default 15,000 ms. */
  handshakeTimeoutMs?: number;
  /** The server sends a Ping when it has written nothing for this long. Default 15,000 ms. */
  keepAliveIntervalMs?: number;
  /**
   * A client that has pinged at least once and then sends nothing for this long is closed.
   * Default 30,000 ms.
   */
  clientTimeoutIntervalMs?: number;
  /** The largest hub message a client may send, framing included. Default 32,768 bytes. */
  maximumReceiveMessageSize?: number;
  /**
   * How many blocking invocations of one connection run at once. Default 1. Streaming invocations
   * (a server-to-client stream, or an Invocation with upload streams) take no slot, as in the
   * reference, so that an upload stream never waits behind the calls it would let finish.
   */
  maximumParallelInvocationsPerClient?: number;
  /**
   * How many parsed invocations of one connection may wait for a slot. Past it the server stops
   * reading that connection (back-pressure, not memory) until one starts; stream items,
   * Completions, CancelInvocation, Ping, Ack and Sequence never wait there. Default 32.
   */
  maxQueuedInvocations?: number;
  /**
   * How many messages of one connection are parsed and handled before it yields the event loop
   * to the other connections (a budget per turn); the rest waits, unread, for the next turn, so
   * one connection's backlog never holds the others. Default 64.
   */
  maxMessagesPerTurn?: number;
  /**
   * A connection whose unsent data stays above {@link sendBufferHighWaterMark} for this long has
   * stopped reading and is closed. Default 10,000 ms.
   */
  sendTimeoutMs?: number;
  /** Unsent bytes above which a connection counts as backed up. Default 65,536. */
  sendBufferHighWaterMark?: number;
  /** Unsent bytes at which a connection is closed at once, to bound memory. Default 4 MiB. */
  maxSendBufferSize?: number;
  /**
   * How many items of one client-to-server (upload) stream wait for the hub method to read them.
   * When a stream's buffer is full the server stops reading the connection until the method
   * consumes, as the reference does (docs/protocol.md#upload-buffering). Default 10.
   */
  streamBufferCapacity?: number;
  /**
   * How long `clients.client(id).invoke(...)` and `clients.caller.invoke(...)` wait for the
   * client's answer before rejecting with `SB_ERR_CLIENT_RESULT_TIMEOUT`; `invokeWith` overrides it
   * per call. Default 30,000 ms.
   */
  clientResultTimeoutMs?: number;
  /**
   * Invocation rate limits (token buckets per connection, per user, optionally per method). Off by
   * default; `true` turns on the documented defaults (`rateLimitDefaults`), an object sets them.
   */
  rateLimit?: RateLimitOptions | boolean;
  /**
   * Offer stateful reconnect (docs/protocol.md#stateful-reconnect) to clients that ask for it
   * (`withStatefulReconnect()`): over WebSockets, a connection whose socket drops without a close
   * frame stays alive for `disconnectTimeoutMs`, and the client's new socket with the same token
   * resumes it, with no message lost or repeated in either direction. Default false, as the
   * reference's `AllowStatefulReconnects`.
   */
  allowStatefulReconnects?: boolean;
  /**
   * Bytes of sent and not yet acknowledged messages kept for replay per stateful connection. A
   * buffer over this limit counts as a client that stopped reading: past `sendTimeoutMs` the
   * connection is closed. Default 100,000 bytes (the reference's StatefulReconnectBufferSize).
   */
  statefulReconnectBufferSize?: number;
  /**
   * When the user's credentials expire (`Principal.expiresAt`, a JWT's `exp`), close the connection
   * with a Close message that allows reconnecting and carries no error, so that a client with
   * automatic reconnect comes back with a fresh token (the reference's
   * CloseOnAuthenticationExpiration, docs/protocol.md#auth-expiration). Checked on the heartbeat against the
   * wall clock. Default false.
   */
  closeOnAuthenticationExpiration?: boolean;
  /** Transports offered, in fallback order. Default: every transport the server implements. */
  transports?: readonly TransportType[];
  /** Who may connect. Default: anyone, anonymous included. */
  authorize?: AuthorizationRequirement;
  /** Filters for this hub, run after the server's. */
  filters?: readonly HubFilter[];
  /** The lifetime manager; default a {@link DefaultHubLifetimeManager} per hub. */
  lifetimeManager?: HubLifetimeManager;
}

/** The options of `HubServer.mapHub`: the hub's own options, and how its instances are made. */
export interface MapHubOptions<H extends Hub<object> = Hub<object>> extends HubOptions {
  /**
   * Creates each hub instance (ASP.NET's IHubActivator), so that a hub can take its dependencies
   * in its constructor: `{ activator: () => new ChatHub(deps) }`. It must return a new instance of
   * the mapped class each time. Default: `new hubClass()`.
   */
  activator?: HubActivator<H>;
}

/** Options of a raw connection endpoint (`HubServer.mapConnection`). */
export interface ConnectionEndpointOptions {
  /** Transports offered, in fallback order. Default: the server's. */
  transports?: readonly TransportType[];
  /** Who may connect. Default: the server's. */
  authorize?: AuthorizationRequirement;
  /** Unsent bytes at which a connection is cut. Default: the server's (4 MiB). */
  maxSendBufferSize?: number;
}

/** Options of a {@link HubServer}. */
export interface HubServerOptions extends Omit<HubOptions, 'lifetimeManager'> {
  /** Finds the user behind each request. Default: everyone is anonymous. */
  authenticate?: Authenticator;
  /** Hub protocols offered. Default: JSON and MessagePack. */
  protocols?: readonly HubProtocol[];
  /**
   * Creates the lifetime manager of each mapped hub. Default: in-memory. Prefer {@link backplane},
   * which also gives the presence store, readiness and health; this stays for custom managers.
   */
  lifetimeManagerFactory?: (hubPath: string) => HubLifetimeManager;
  /**
   * The cluster's backplane (`redisBackplane(…)`, `postgresBackplane(…)`, `natsBackplane(…)`):
   * it gives every hub its lifetime manager and the server its presence store; await
   * `hubs.ready()` before serving; `hubs.health()` reports it; `hubs.close()` closes it. Not
   * together with `lifetimeManagerFactory` or `presence`.
   */
  backplane?: Backplane;
  /** Structured logs. Default: warnings and errors as JSON lines on stderr. */
  logger?: Logger;
  /** Metrics hooks of the application, called beside the OpenTelemetry instruments. Default: none. */
  metrics?: HubMetrics;
  /**
   * Where the OpenTelemetry instruments go (docs/server.md, "OpenTelemetry"). Default: the
   * global provider of `@opentelemetry/api` at construction, so register the SDK before creating
   * the server. Without an SDK (the API's no-op provider) nothing is installed.
   */
  meterProvider?: MeterProvider;
  /** The clock and timers (tests pass a manual one). Default: the system's. */
  timeProvider?: TimeProvider;
  /** The tick that drives every timeout and the keep-alive. Default 1,000 ms. */
  heartbeatIntervalMs?: number;
  /** A negotiated connection that no transport uses for this long is disposed. Default 15,000 ms. */
  disconnectTimeoutMs?: number;
  /** The lowest negotiate version accepted. Default 0. */
  minimumNegotiateVersion?: number;
  /** The largest WebSocket frame accepted (frames may batch many messages). Default 8 MiB. */
  maxWebSocketFrameSize?: number;
  /** How long `close()` waits for connections to end before cutting them. Default 5,000 ms. */
  drainTimeoutMs?: number;
  /**
   * How long a long poll waits for data before answering 200 with an empty body ("poll again").
   * Default 90,000 ms, the reference's PollTimeout (its client gives up on a poll after 100 s).
   */
  longPollTimeoutMs?: number;
  /**
   * CORS for browser clients on other origins (docs/protocol.md#cors): allowed origins are
   * echoed with credentials, preflights answered. Default: no CORS headers at all.
   */
  cors?: CorsOptions;
  /**
   * Refuse (403) transport requests, negotiates and WebSocket upgrades whose `Origin` header is
   * present and neither the server's own nor allowed by `cors`. Requests without `Origin` (Node
   * clients) always pass. Default: true when `cors` is set, else false.
   */
  checkOrigin?: boolean;
  /**
   * The most connections that may be negotiated and not yet used; a negotiate beyond it gets 503
   * "Too many pending connections.". Off by default; `true` is 10,000.
   */
  maxInactiveConnections?: number | boolean;
  /**
   * Negotiates per client IP (a token bucket); beyond it 429 "Too many negotiate requests.". Off by
   * default; `true` is 5 per second with bursts of 20.
   */
  negotiateRateLimit?: NegotiateRateLimit | boolean;
  /**
   * Which proxies may name the client IP (for the negotiate rate limit) in `X-Forwarded-For`: a
   * number of proxy hops in front of the server, or the proxies' addresses. Default: none, the
   * socket's address is the client's.
   */
  trustProxy?: TrustProxy;
  /**
   * Where presence lives: a store shared by the nodes of a cluster (Redis, PostgreSQL). Default: an
   * in-memory `DefaultPresenceStore` for this process. The server closes only a store it created.
   */
  presence?: PresenceStore;
  /**
   * How long a user whose last connection went stays online, so that a page reload or a quick
   * reconnect emits no events (the default in-memory store only). Default 5,000 ms.
   */
  presenceGraceMs?: number;
  /**
   * The most connections one user may hold on this node (tabs, devices); more are refused at
   * negotiate with 429 "Too many connections for this user.", or with that handshake error when
   * negotiation is skipped. Default: no cap.
   */
  maxConnectionsPerUser?: number;
  /** The most connections from one client IP on this node, refused likewise. Default: no cap. */
  maxConnectionsPerIp?: number;
  /**
   * A socket of the attached HTTP server whose request headers have not all arrived this long
   * after it opened (or after the previous response on it) gets 408 and is closed, as Kestrel's
   * RequestHeadersTimeout. It covers every request of the server, the app's own routes too, since
   * headers come before any routing. Default 30,000 ms.
   */
  requestHeadersTimeoutMs?: number;
  /**
   * A hub request (negotiate, a long-polling or Server-Sent Events send) whose body has not all
   * arrived this long after its headers gets 408 and is closed. The app's own routes keep Node's
   * `requestTimeout`. Default 30,000 ms.
   */
  requestBodyTimeoutMs?: number;
  /**
   * The most sockets one client address may hold open at once on the attached HTTP server (HTTP
   * and WebSocket alike); one more gets 429 "Too many connections from this address." and is
   * closed. With `trustProxy` the address is the one `X-Forwarded-For` names, so a socket counts
   * from its first request; without it, the socket's own address counts from the moment it opens.
   * Default: no cap.
   */
  maxSocketsPerIp?: number;
  /**
   * The secret the nodes of a cluster share (the JWT secret will do). With it, connection tokens
   * name the node that owns the connection, signed, and a transport request (a long poll, a POST,
   * a DELETE, an event stream, a WebSocket upgrade after a negotiate elsewhere, a stateful
   * reconnect's return) that reaches another node is forwarded to the owner by one signed HTTP
   * hop: the load balancer needs no sticky sessions (docs/scale-out.md#no-sticky-sessions).
   * Default: none, every request is served where it lands.
   */
  clusterSecret?: string | Uint8Array;
  /**
   * The base URL (`http://10.0.0.5:3000`) at which the other nodes reach this one, written in the
   * tokens it issues; only with `clusterSecret`. Default: the address and port each negotiate
   * request came in on, that is the address the node listens on as the load balancer reached it.
   * Set it when peers reach the node at another address (NAT, a private listener per worker).
   */
  advertiseUrl?: string;
  /**
   * Where the in-memory limits live when several processes serve together: the connection caps
   * (`maxConnectionsPerUser`, `maxConnectionsPerIp`), `maxSocketsPerIp`, `negotiateRateLimit` and
   * the per-user invocation budget of `rateLimit` (docs/server.md#limits-with-workers). Default: in
   * a worker of `clusterize`, the machine's primary process (every worker shares them, so N
   * workers never give N times the allowance); elsewhere this process. `false`: this process
   * even in a worker.
   */
  sharedLimits?: SharedLimits | false;
}

/** Per-hub options with every default applied. */
export interface ResolvedHubOptions {
  readonly enableDetailedErrors: boolean;
  readonly handshakeTimeoutMs: number;
  readonly keepAliveIntervalMs: number;
  readonly clientTimeoutIntervalMs: number;
  readonly maximumReceiveMessageSize: number;
  readonly maximumParallelInvocationsPerClient: number;
  readonly maxQueuedInvocations: number;
  readonly maxMessagesPerTurn: number;
  readonly sendTimeoutMs: number;
  readonly sendBufferHighWaterMark: number;
  readonly maxSendBufferSize: number;
  readonly streamBufferCapacity: number;
  readonly clientResultTimeoutMs: number;
  readonly rateLimit: RateLimitOptions | undefined;
  readonly allowStatefulReconnects: boolean;
  readonly statefulReconnectBufferSize: number;
  readonly closeOnAuthenticationExpiration: boolean;
  readonly transports: readonly TransportType[];
  readonly authorize: AuthorizationRequirement | undefined;
  readonly filters: readonly HubFilter[];
  readonly onConnecting: ConnectingHook | undefined;
}

/** The transports this server implements, in the reference's fallback order. */
export const SUPPORTED_TRANSPORTS: readonly TransportType[] = [
  'WebSockets',
  'ServerSentEvents',
  'LongPolling',
];

/** The reference defaults. */
export const hubOptionDefaults = {
  enableDetailedErrors: false,
  handshakeTimeoutMs: 15_000,
  keepAliveIntervalMs: 15_000,
  clientTimeoutIntervalMs: 30_000,
  maximumReceiveMessageSize: 32_768,
  maximumParallelInvocationsPerClient: 1,
  maxQueuedInvocations: 32,
  maxMessagesPerTurn: 64,
  sendTimeoutMs: 10_000,
  sendBufferHighWaterMark: 65_536,
  maxSendBufferSize: 4 * 1024 * 1024,
  streamBufferCapacity: 10,
  clientResultTimeoutMs: 30_000,
  allowStatefulReconnects: false,
  statefulReconnectBufferSize: 100_000,
  closeOnAuthenticationExpiration: false,
} as const;

/** Server-level defaults. */
export const serverOptionDefaults = {
  heartbeatIntervalMs: 1_000,
  disconnectTimeoutMs: 15_000,
  minimumNegotiateVersion: 0,
  maxWebSocketFrameSize: 8 * 1024 * 1024,
  drainTimeoutMs: 5_000,
  longPollTimeoutMs: 90_000,
  requestHeadersTimeoutMs: 30_000,
  requestBodyTimeoutMs: 30_000,
} as const;

/** Combines a hub's options with the server's, checking every number. */
export function resolveHubOptions(server: HubServerOptions, hub: HubOptions): ResolvedHubOptions {
  const pick = <K extends keyof typeof hubOptionDefaults>(
    key: K,
  ): (typeof hubOptionDefaults)[K] | number | boolean => hub[key] ?? server[key] ?? hubOptionDefaults[key];
  const resolved: ResolvedHubOptions = {
    enableDetailedErrors: Boolean(pick('enableDetailedErrors')),
    handshakeTimeoutMs: positive('handshakeTimeoutMs', pick('handshakeTimeoutMs')),
    keepAliveIntervalMs: positive('keepAliveIntervalMs', pick('keepAliveIntervalMs')),
    clientTimeoutIntervalMs: positive('clientTimeoutIntervalMs', pick('clientTimeoutIntervalMs')),
    maximumReceiveMessageSize: positive('maximumReceiveMessageSize', pick('maximumReceiveMessageSize')),
    maximumParallelInvocationsPerClient: positive(
      'maximumParallelInvocationsPerClient',
      pick('maximumParallelInvocationsPerClient'),
    ),
    maxQueuedInvocations: positive('maxQueuedInvocations', pick('maxQueuedInvocations')),
    maxMessagesPerTurn: positive('maxMessagesPerTurn', pick('maxMessagesPerTurn')),
    sendTimeoutMs: positive('sendTimeoutMs', pick('sendTimeoutMs')),
    sendBufferHighWaterMark: positive('sendBufferHighWaterMark', pick('sendBufferHighWaterMark')),
    maxSendBufferSize: positive('maxSendBufferSize', pick('maxSendBufferSize')),
    streamBufferCapacity: positive('streamBufferCapacity', pick('streamBufferCapacity')),
    clientResultTimeoutMs: positive('clientResultTimeoutMs', pick('clientResultTimeoutMs')),
    rateLimit: resolveRateLimit(hub.rateLimit ?? server.rateLimit),
    allowStatefulReconnects: Boolean(pick('allowStatefulReconnects')),
    statefulReconnectBufferSize: positive('statefulReconnectBufferSize', pick('statefulReconnectBufferSize')),
    closeOnAuthenticationExpiration: Boolean(pick('closeOnAuthenticationExpiration')),
    transports: hub.transports ?? server.transports ?? SUPPORTED_TRANSPORTS,
    authorize: hub.authorize ?? server.authorize,
    filters: [...(server.filters ?? []), ...(hub.filters ?? [])],
    onConnecting: hub.onConnecting ?? server.onConnecting,
  };
  for (const t of resolved.transports) {
    if (!SUPPORTED_TRANSPORTS.includes(t)) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `Transport '${t}' is not available in this server.`,
      );
    }
  }
  return resolved;
}

/** The protocols a server offers. */
export function resolveProtocols(options: HubServerOptions): readonly HubProtocol[] {
  return options.protocols ?? [jsonHubProtocol, messagePackHubProtocol];
}

function resolveRateLimit(value: RateLimitOptions | boolean | undefined): RateLimitOptions | undefined {
  if (value === undefined || value === false) return undefined;
  return value === true ? {} : value;
}

function positive(name: string, value: number | boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `Option '${name}' must be a positive number.`);
  }
  return value;
}
