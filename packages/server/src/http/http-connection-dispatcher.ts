import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { MessageType } from '@switchboard/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  AuthenticationUnavailableError,
  type Authenticator,
  type Principal,
} from '../auth/authentication.js';
import type { ConnectionTransport, TransportReceiver } from '../connection/connection-transport.js';
import {
  type ConnectionEndListener,
  HubConnectionContext,
  type HubConnectionEnvironment,
} from '../connection/hub-connection-context.js';
import { RawConnectionContext, type RawConnectionHandler } from '../connection/raw-connection.js';
import type { ServerErrorCode } from '../errors.js';
import { type AuthorizationRequirement, authorize } from '../hubs/authorization.js';
import type { SharedLimits } from '../limits/shared-limits.js';
import type { Logger } from '../logger.js';
import type { HubMetrics } from '../metrics.js';
import type { TransportType } from '../options.js';
import type { TimeProvider } from '../time-provider.js';
import { type ConnectionLimitOptions, ConnectionLimits, type ConnectionOwner } from './connection-limits.js';
import { type CorsPolicy, ORIGIN_NOT_ALLOWED } from './cors.js';
import type { ConnectionForwarder } from './forwarding/forwarder.js';
import { interceptRequest, interceptUpgrade } from './forwarding/intercept.js';
import {
  type ConnectionApplication,
  type HttpConnection,
  HttpConnectionManager,
} from './http-connection-manager.js';
import { type HttpRequestInfo, redactRequestUrl, requestInfoOf } from './http-request-info.js';
import { AUTH_UNAVAILABLE, refuseUpgrade, sendEmpty, sendText, sendUnavailable } from './http-responses.js';
import { serveNegotiate } from './negotiate-handler.js';
import { clientAddress, TokenBuckets, type TrustProxy } from './negotiate-limits.js';
import type { SocketGuardOptions } from './socket-guard.js';
import {
  serveDelete,
  serveLongPoll,
  servePost,
  serveServerSentEvents,
} from './transports/http-transport-handlers.js';
import { LongPollingTransport } from './transports/long-polling-transport.js';
import { upgradeWebSocket } from './transports/websocket-handler.js';
import { HubWebSocket } from './transports/websocket-transport.js';
import { guardUpgradedSocket } from './upgraded-socket-guard.js';

interface EndpointBase {
  /** The path as mapped. */
  readonly path: string;
  /** The path in lower case without a trailing slash: the routing key. */
  readonly key: string;
  /** Transports offered, in fallback order. */
  readonly transports: readonly TransportType[];
  /** Who may connect. */
  readonly authorize: AuthorizationRequirement | undefined;
}

/** A mapped hub, as the HTTP layer needs it. */
export interface HttpHubEndpoint extends EndpointBase {
  readonly kind: 'hub';
  /** Everything its connections need. */
  readonly env: HubConnectionEnvironment;
}

/** A mapped raw connection endpoint (`mapConnection`). */
export interface HttpRawEndpoint extends EndpointBase {
  readonly kind: 'raw';
  readonly handler: RawConnectionHandler;
  /** Unsent bytes at which a connection is cut. */
  readonly maxSendBufferSize: number;
}

/** An endpoint: negotiate at `{path}/negotiate`, transports at `{path}`. */
export type HttpEndpoint = HttpHubEndpoint | HttpRawEndpoint;

/** Server-wide settings of the HTTP layer. */
export interface HttpDispatcherOptions {
  readonly authenticate: Authenticator | undefined;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly time: TimeProvider;
  readonly heartbeatIntervalMs: number;
  readonly disconnectTimeoutMs: number;
  readonly minimumNegotiateVersion: number;
  /** The largest WebSocket frame, and the largest POST body (SSE and long polling). */
  readonly maxWebSocketFrameSize: number;
  /** How long a poll waits for data before answering 200 empty. */
  readonly longPollTimeoutMs: number;
  /** CORS and the origin check. */
  readonly cors: CorsPolicy;
  /** The cap on connections negotiated and not yet used, or undefined for none. */
  readonly maxInactiveConnections: number | undefined;
  /** Negotiates per client IP, or undefined for no limit. */
  readonly negotiateRateLimit: { readonly perSecond: number; readonly burst: number } | undefined;
  /** Which proxies may name the client in X-Forwarded-For. */
  readonly trustProxy: TrustProxy | undefined;
  /** Per-user and per-IP connection caps. */
  readonly connectionLimits: ConnectionLimitOptions;
  /** Where the connection caps and negotiate buckets live when processes share them (workers). */
  readonly sharedLimits?: SharedLimits | undefined;
  /** Request deadlines and the socket cap (for the hub server's SocketGuard). */
  readonly socketGuard: Omit<SocketGuardOptions, 'time' | 'logger' | 'metrics'>;
  /** Forwards requests whose connection lives on another node (with `clusterSecret`). */
  readonly forwarder?: ConnectionForwarder | undefined;
}

type Route = { endpoint: HttpEndpoint; negotiate: boolean };

/** What a transport request found: the connection it names, and the request it came with. */
export type Access = 'ok' | 'unauthenticated' | 'forbidden';

/**
 * Routes HTTP requests and upgrades to endpoints (ASP.NET's HttpConnectionDispatcher):
 * `POST {path}/negotiate`, and on `{path}` the WebSocket upgrade, the Server-Sent Events GET, long
 * polls, POSTed client data and the long-polling DELETE, with the status codes of the reference
 * (docs/protocol.md#endpoints, docs/protocol.md#connections). Paths and query keys compare
 * case-insensitively.
 */
export class HttpConnectionDispatcher {
  readonly connections: HttpConnectionManager;
  private readonly endpoints = new Map<string, HttpEndpoint>();
  /** @internal */
  readonly wss: WebSocketServer;
  /** @internal The negotiate rate limit's buckets, when it is on. */
  readonly negotiateBuckets: TokenBuckets | undefined;
  /** @internal */
  accepting = true;

  constructor(readonly options: HttpDispatcherOptions) {
    this.connections = new HttpConnectionManager(
      options.time,
      options.heartbeatIntervalMs,
      options.disconnectTimeoutMs,
      new ConnectionLimits(options.connectionLimits, options.sharedLimits),
    );
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxWebSocketFrameSize,
      perMessageDeflate: false,
      clientTracking: false,
      // Made only as the server makes sockets (see HubWebSocket's constructor).
      WebSocket: HubWebSocket as unknown as typeof WebSocket,
    });
    if (options.negotiateRateLimit) {
      this.negotiateBuckets = new TokenBuckets(
        options.negotiateRateLimit.perSecond,
        options.negotiateRateLimit.burst,
      );
    }
    this.connections.start();
  }

  /** @internal Takes a negotiate token of `address` (machine-wide with shared limits). */
  takeNegotiateToken(address: string): boolean | Promise<boolean> {
    const shared = this.options.sharedLimits;
    const rate = this.options.negotiateRateLimit;
    if (shared && rate) return shared.take(`negotiate\u0000${address}`, rate.perSecond, rate.burst);
    return this.negotiateBuckets!.take(address, this.options.time.now());
  }

  /** Adds an endpoint. */
  add(endpoint: HttpEndpoint): void {
    // A frozen copy of the transports: the negotiate reply writes their part once per list.
    this.endpoints.set(endpoint.key, { ...endpoint, transports: Object.freeze([...endpoint.transports]) });
  }

  /** Whether a path (lower case, no trailing slash) is taken. */
  has(key: string): boolean {
    return this.endpoints.has(key);
  }

  /** Refuses new connections from now on (503), for a draining shutdown. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Stops the heartbeat and the WebSocket server. */
  dispose(): void {
    this.connections.stop();
    this.wss.close();
    this.options.forwarder?.dispose();
  }

  /** Serves `req` if it is for an endpoint; returns false to let the app handle it. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const url = parseUrl(req.url);
    const route = url && this.route(url.pathname);
    if (!route) return false;
    if (!route.negotiate && interceptRequest(this, route.endpoint, req, res, url)) return true;
    void this.serve(route, req, res, url).catch((error: unknown) => {
      if (error instanceof AuthenticationUnavailableError) {
        this.authUnavailable(route.endpoint, req, error);
        if (!res.headersSent) sendUnavailable(res, AUTH_UNAVAILABLE);
        else res.destroy();
        return;
      }
      this.options.logger.error('http.request_failed', {
        url: redactRequestUrl(req.url ?? ''),
        error: error as Error,
      });
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
      else res.destroy();
    });
    return true;
  }

  /** Serves a WebSocket upgrade if it is for an endpoint; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = parseUrl(req.url);
    const route = url && this.route(url.pathname);
    if (!route) return false;
    // Until `ws` holds the socket (upgraded-socket-guard.ts).
    guardUpgradedSocket(socket, this.options.logger);
    if (!this.options.cors.admitUpgrade(req)) {
      this.count(route.endpoint, 'SB_ERR_ORIGIN_NOT_ALLOWED');
      refuseUpgrade(socket, 403, ORIGIN_NOT_ALLOWED);
      return true;
    }
    if (route.negotiate) {
      this.count(route.endpoint, 'SB_ERR_METHOD_NOT_ALLOWED');
      refuseUpgrade(socket, 405);
      return true;
    }
    if (interceptUpgrade(this, route.endpoint, req, socket, head, url)) return true;
    void upgradeWebSocket(this, route.endpoint, req, socket, head, url).catch((error: unknown) => {
      if (error instanceof AuthenticationUnavailableError) {
        this.authUnavailable(route.endpoint, req, error);
        refuseUpgrade(socket, 503, AUTH_UNAVAILABLE);
        return;
      }
      this.options.logger.error('http.upgrade_failed', {
        url: redactRequestUrl(req.url ?? ''),
        error: error as Error,
      });
      refuseUpgrade(socket, 500);
    });
    return true;
  }

  private route(pathname: string): Route | undefined {
    let key = pathname.toLowerCase();
    if (key.length > 1 && key.endsWith('/')) key = key.slice(0, -1);
    const endpoint = this.endpoints.get(key);
    if (endpoint) return { endpoint, negotiate: false };
    if (key.endsWith('/negotiate')) {
      const parent = this.endpoints.get(key.slice(0, -'/negotiate'.length) || '/');
      if (parent) return { endpoint: parent, negotiate: true };
    }
    return undefined;
  }

  private async serve(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { endpoint } = route;
    const cors = this.options.cors;
    if (cors.isPreflight(req)) {
      if (!cors.preflight(req, res)) this.count(endpoint, 'SB_ERR_ORIGIN_NOT_ALLOWED');
      return;
    }
    if (!cors.admit(req, res)) {
      return this.refuse(res, endpoint, 403, 'SB_ERR_ORIGIN_NOT_ALLOWED', ORIGIN_NOT_ALLOWED);
    }
    const method = req.method ?? 'GET';
    const info = requestInfoOf(req, url);
    if (route.negotiate) {
      if (method !== 'POST')
        return this.refuse(res, endpoint, 405, 'SB_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed');
      return serveNegotiate(this, endpoint, req, info, res);
    }
    if (method === 'GET') {
      // Not an upgrade: Server-Sent Events or long polling (docs/protocol.md#endpoints).
      if (/text\/event-stream/i.test(req.headers.accept ?? '')) {
        return serveServerSentEvents(this, endpoint, info, res);
      }
      return serveLongPoll(this, endpoint, info, res);
    }
    if (method === 'POST') return servePost(this, endpoint, req, info, res);
    if (method === 'DELETE') return serveDelete(this, endpoint, info, res);
    return this.refuse(res, endpoint, 405, 'SB_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed');
  }

  // ---- shared by the transport handlers ------------------------------------------------------------

  /** Who a new connection counts against, when per-user or per-IP caps are on. */
  ownerOf(req: IncomingMessage, user: Principal | undefined): ConnectionOwner | undefined {
    if (!this.connections.limits.enabled) return undefined;
    return { userId: user?.userId, address: clientAddress(req, this.options.trustProxy) };
  }

  /** Counts a refusal under its catalogue code. */
  count(endpoint: HttpEndpoint, code: ServerErrorCode): void {
    this.options.metrics.error(endpoint.path, code);
  }

  /** Answers a refusal in text/plain and counts it. */
  refuse(
    res: ServerResponse,
    endpoint: HttpEndpoint,
    status: number,
    code: ServerErrorCode,
    text: string,
  ): void {
    this.count(endpoint, code);
    sendText(res, status, text);
  }

  /** 401 (empty body, 8.3) or 403. */
  refuseAccess(res: ServerResponse, endpoint: HttpEndpoint, access: Exclude<Access, 'ok'>): void {
    this.count(endpoint, access === 'unauthenticated' ? 'SB_ERR_UNAUTHORIZED' : 'SB_ERR_FORBIDDEN');
    sendEmpty(res, access === 'unauthenticated' ? 401 : 403);
  }

  /**
   * The connection a transport request names, or undefined after answering 400 (no id) or 404
   * (unknown, disposed, or negotiated for another endpoint) (docs/protocol.md#unknown-connection).
   */
  lookup(info: HttpRequestInfo, res: ServerResponse, endpoint: HttpEndpoint): HttpConnection | undefined {
    const token = info.query.get('id');
    if (!token) {
      this.refuse(res, endpoint, 400, 'SB_ERR_CONNECTION_ID_REQUIRED', 'Connection ID required');
      return undefined;
    }
    const connection = this.connections.get(token);
    if (!connection || connection.hubKey !== endpoint.key) {
      this.refuse(res, endpoint, 404, 'SB_ERR_CONNECTION_NOT_FOUND', 'No Connection with that ID');
      return undefined;
    }
    return connection;
  }

  /** Counts and logs a request the authenticator could not judge (answered 503 by the caller). */
  private authUnavailable(endpoint: HttpEndpoint, req: IncomingMessage, error: Error): void {
    this.count(endpoint, 'SB_ERR_AUTH_UNAVAILABLE');
    this.options.logger.warn('auth.unavailable', { url: redactRequestUrl(req.url ?? ''), error });
  }

  /**
   * The request's user, or undefined (no authenticator, no credentials, or a failure). An
   * {@link AuthenticationUnavailableError} propagates: the request is answered 503.
   */
  async authenticate(info: HttpRequestInfo): Promise<Principal | undefined> {
    if (!this.options.authenticate) return undefined;
    try {
      return (await this.options.authenticate(info)) ?? undefined;
    } catch (error) {
      if (error instanceof AuthenticationUnavailableError) throw error;
      this.options.logger.warn('auth.failed', { url: info.safeUrl, error: error as Error });
      return undefined;
    }
  }

  async authorizeRequest(endpoint: HttpEndpoint, info: HttpRequestInfo): Promise<Access> {
    return authorize(endpoint.authorize, await this.authenticate(info));
  }

  /**
   * For a request to a running connection (a POST, a later poll, DELETE) on an endpoint that
   * requires a user: the same checks as the first request, and the user must be the same one.
   */
  async authorizeFollowUp(
    endpoint: HttpEndpoint,
    connection: HttpConnection,
    info: HttpRequestInfo,
  ): Promise<Access> {
    if (endpoint.authorize === undefined) return 'ok';
    const user = await this.authenticate(info);
    const access = await authorize(endpoint.authorize, user);
    if (access !== 'ok') return access;
    return user?.userId === connection.user?.userId ? 'ok' : 'forbidden';
  }

  /**
   * Creates what runs over a new transport: a hub connection or a raw connection. Returns the
   * receiver the transport reports to, and `run`, to call once the transport has started.
   */
  startApplication(
    endpoint: HttpEndpoint,
    connection: HttpConnection,
    user: Principal | undefined,
    info: HttpRequestInfo,
    transport: ConnectionTransport,
  ): { receiver: TransportReceiver; run: () => void } {
    connection.user = user;
    this.options.logger.debug('connection.opened', {
      hub: endpoint.path,
      connectionId: connection.connectionId,
      transport: transport.name,
      // Redacted only if a logger reads it: the default one drops debug events unread.
      get url() {
        return info.safeUrl;
      },
    });
    if (endpoint.kind === 'hub') {
      // The application object (kept anyway) is told of the end: no closure, no scope, no bound
      // function kept per connection.
      const application = new HubApplication(this, connection);
      const hub = new HubConnectionContext(
        connection.connectionId,
        user,
        info,
        transport,
        endpoint.env,
        application,
        connection.useStatefulReconnect && transport.name === 'WebSockets'
          ? statefulHooksOf(this.connections, connection)
          : undefined,
      );
      application.hub = hub;
      connection.application = application;
      return { receiver: hub, run: noop };
    }
    const raw = new RawConnectionContext(connection.connectionId, user, info, transport, {
      path: endpoint.path,
      logger: this.options.logger,
      maxSendBufferSize: endpoint.maxSendBufferSize,
      onEnded: () => this.applicationEnded(connection),
    });
    connection.application = raw;
    return { receiver: raw, run: () => raw.start(endpoint.handler) };
  }

  /**
   * The application ended. A long-polling connection stays until its last poll has drained the
   * remaining data and got its 204 (docs/protocol.md#long-polling-end); any other is disposed now.
   */
  /** @internal */
  applicationEnded(connection: HttpConnection): void {
    const transport = connection.httpTransport;
    if (transport instanceof LongPollingTransport && !transport.isFinished) return;
    this.connections.dispose(connection);
  }
}

/** The hooks of a connection that may resume (made only for those). */
function statefulHooksOf(connections: HttpConnectionManager, connection: HttpConnection) {
  return { onDetached: () => connections.setActive(connection, false) };
}

/** A hub connection as the HTTP layer drives it: one small object, no closures per connection. */
class HubApplication implements ConnectionApplication, ConnectionEndListener {
  /** Set right after construction (the hub is given {@link ended}). */
  hub!: HubConnectionContext;

  constructor(
    private readonly owner: HttpConnectionDispatcher,
    private readonly connection: HttpConnection,
  ) {}

  /** The hub connection ended: the HTTP layer lets it go. */
  ended(): void {
    this.owner.applicationEnded(this.connection);
  }

  tick(now: number): void {
    this.hub.tick(now);
  }

  shutdown(): Promise<void> {
    this.hub.closeStatus = 'app_shutdown';
    this.hub.closeWith({ type: MessageType.Close, allowReconnect: true }, undefined);
    return this.hub.closed;
  }

  abandon(): void {
    // The transport never came back within the disconnect timeout.
    this.hub.closeStatus = 'timeout';
    this.hub.abandon();
  }

  get resumable(): boolean {
    return this.hub.canResume;
  }

  resume(transport: ConnectionTransport, user: Principal | undefined): TransportReceiver | undefined {
    return this.hub.resume(transport, user);
  }
}

function noop(): void {}

function parseUrl(raw: string | undefined): URL | undefined {
  if (!raw) return undefined;
  try {
    return new URL(raw, 'http://localhost');
  } catch {
    return undefined;
  }
}
