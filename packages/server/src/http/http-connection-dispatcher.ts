import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Authenticator, Principal } from '../auth/authentication.js';
import { HubConnectionContext, type HubConnectionEnvironment } from '../connection/hub-connection-context.js';
import { authorize } from '../hubs/authorization.js';
import type { Logger } from '../logger.js';
import type { HubMetrics } from '../metrics.js';
import type { TransportType } from '../options.js';
import type { TimeProvider } from '../time-provider.js';
import { type HttpConnection, HttpConnectionManager } from './http-connection-manager.js';
import { type HttpRequestInfo, redactRequestUrl, requestInfoOf } from './http-request-info.js';
import { refuseUpgrade, sendEmpty, sendJson, sendText } from './http-responses.js';
import { readNegotiateVersion, writeNegotiateReply } from './negotiate.js';
import { WebSocketTransport } from './transports/websocket-transport.js';

/** A mapped hub, as the HTTP layer needs it. */
export interface HttpHubEndpoint {
  /** The path as mapped. */
  readonly path: string;
  /** The path in lower case without a trailing slash: the routing key. */
  readonly key: string;
  /** Everything its connections need. */
  readonly env: HubConnectionEnvironment;
}

/** Server-wide settings of the HTTP layer. */
export interface HttpDispatcherOptions {
  readonly authenticate: Authenticator | undefined;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly time: TimeProvider;
  readonly heartbeatIntervalMs: number;
  readonly disconnectTimeoutMs: number;
  readonly minimumNegotiateVersion: number;
  readonly maxWebSocketFrameSize: number;
}

type Route = { hub: HttpHubEndpoint; negotiate: boolean };

/**
 * Routes HTTP requests and upgrades to hub endpoints (ASP.NET's HttpConnectionDispatcher):
 * `POST {path}/negotiate`, the WebSocket upgrade on `{path}`, and the status codes of
 * signalr-protocol.md sections 1 to 4 for everything else on those paths. Paths and query keys
 * compare case-insensitively.
 */
export class HttpConnectionDispatcher {
  readonly connections: HttpConnectionManager;
  private readonly hubs = new Map<string, HttpHubEndpoint>();
  private readonly wss: WebSocketServer;
  private accepting = true;

  constructor(private readonly options: HttpDispatcherOptions) {
    this.connections = new HttpConnectionManager(
      options.time,
      options.heartbeatIntervalMs,
      options.disconnectTimeoutMs,
    );
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxWebSocketFrameSize,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.connections.start();
  }

  /** Adds a hub endpoint. */
  add(hub: HttpHubEndpoint): void {
    this.hubs.set(hub.key, hub);
  }

  /** Whether a path (lower case, no trailing slash) is taken. */
  has(key: string): boolean {
    return this.hubs.has(key);
  }

  /** Refuses new connections from now on (503), for a draining shutdown. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Stops the heartbeat and the WebSocket server. */
  dispose(): void {
    this.connections.stop();
    this.wss.close();
  }

  /** Serves `req` if it is for a hub endpoint; returns false to let the app handle it. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const url = parseUrl(req.url);
    const route = url && this.route(url.pathname);
    if (!route) return false;
    void this.serve(route, req, res, url).catch((error: unknown) => {
      this.options.logger.error('http.request_failed', {
        url: redactRequestUrl(req.url ?? ''),
        error: error as Error,
      });
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
      else res.destroy();
    });
    return true;
  }

  /** Serves a WebSocket upgrade if it is for a hub endpoint; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = parseUrl(req.url);
    const route = url && this.route(url.pathname);
    if (!route) return false;
    if (route.negotiate) {
      refuseUpgrade(socket, 405);
      return true;
    }
    void this.upgrade(route.hub, req, socket, head, url).catch((error: unknown) => {
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
    const hub = this.hubs.get(key);
    if (hub) return { hub, negotiate: false };
    if (key.endsWith('/negotiate')) {
      const parent = this.hubs.get(key.slice(0, -'/negotiate'.length) || '/');
      if (parent) return { hub: parent, negotiate: true };
    }
    return undefined;
  }

  private async serve(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const info = requestInfoOf(req, url, redactRequestUrl(req.url ?? ''));
    if (route.negotiate) {
      if (method !== 'POST') return sendText(res, 405, 'Method Not Allowed');
      return this.negotiate(route.hub, info, res);
    }
    if (method === 'GET' || method === 'CONNECT') {
      // Not an upgrade: Server-Sent Events or long polling (1.1).
      const wanted: TransportType = /text\/event-stream/i.test(req.headers.accept ?? '')
        ? 'ServerSentEvents'
        : 'LongPolling';
      // Only WebSockets exist so far, so any other transport is one this endpoint does not offer.
      return sendText(res, 404, `${wanted} transport not supported by this end point type`);
    }
    if (method === 'POST' || method === 'DELETE') {
      const connection = this.lookup(info, res);
      if (!connection) return;
      if (method === 'POST') {
        if (connection.transportType === 'WebSockets') {
          return sendText(res, 405, 'POST requests are not allowed for WebSocket connections.');
        }
        return sendText(res, 404, 'No Connection with that ID');
      }
      return sendText(res, 400, 'Cannot terminate this connection using the DELETE endpoint.');
    }
    return sendText(res, 405, 'Method Not Allowed');
  }

  /** The connection a transport request names, or an answer of 400 / 404 (3.7). */
  private lookup(info: HttpRequestInfo, res: ServerResponse): HttpConnection | undefined {
    const token = info.query.get('id');
    if (!token) {
      sendText(res, 400, 'Connection ID required');
      return undefined;
    }
    const connection = this.connections.get(token);
    if (!connection) {
      sendText(res, 404, 'No Connection with that ID');
      return undefined;
    }
    return connection;
  }

  private async negotiate(hub: HttpHubEndpoint, info: HttpRequestInfo, res: ServerResponse): Promise<void> {
    if (!this.accepting) return sendText(res, 503, 'The server is shutting down.');
    const access = await this.authorizeRequest(hub, info);
    if (access !== 'ok') return sendEmpty(res, access === 'unauthenticated' ? 401 : 403);
    const version = readNegotiateVersion(
      info.query.get('negotiateVersion'),
      this.options.minimumNegotiateVersion,
    );
    if (!version.ok) return sendJson(res, 200, JSON.stringify({ error: version.error }));
    const connection = this.connections.create(hub.key, version.version);
    this.options.logger.debug('connection.negotiated', {
      hub: hub.path,
      connectionId: connection.connectionId,
    });
    sendJson(
      res,
      200,
      writeNegotiateReply({
        negotiateVersion: version.version,
        connectionId: connection.connectionId,
        connectionToken: connection.connectionToken,
        transports: hub.env.options.transports,
      }),
    );
  }

  private async upgrade(hub: HttpHubEndpoint, req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) {
    const info = requestInfoOf(req, url, redactRequestUrl(req.url ?? ''));
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return refuseUpgrade(socket, 400, 'Not a WebSocket request.');
    }
    if (!hub.env.options.transports.includes('WebSockets')) {
      return refuseUpgrade(socket, 404, 'WebSockets transport not supported by this end point type');
    }
    if (!this.accepting) return refuseUpgrade(socket, 503, 'The server is shutting down.');
    const user = await this.authenticate(info);
    const access = await authorize(hub.env.options.authorize, user);
    if (access !== 'ok') return refuseUpgrade(socket, access === 'unauthenticated' ? 401 : 403);
    const token = info.query.get('id');
    if (socket.destroyed) return; // the client left while it was authenticated
    let connection: HttpConnection;
    if (token) {
      const found = this.connections.get(token);
      if (!found || found.hubKey !== hub.key) return refuseUpgrade(socket, 404, 'No Connection with that ID');
      if (found.transportType && found.transportType !== 'WebSockets') {
        return refuseUpgrade(socket, 400, 'Cannot change transports mid-connection');
      }
      if (found.status !== 'inactive') return refuseUpgrade(socket, 409);
      connection = found;
    } else {
      // skipNegotiation: the connection is born here (4.2).
      connection = this.connections.create(hub.key, 1);
    }
    // Claim it before the upgrade completes, so that a second request meanwhile gets 409.
    connection.status = 'active';
    connection.transportType = 'WebSockets';
    // `ws` refuses a bad upgrade (a wrong Sec-WebSocket-Version or key, a socket already gone) by
    // itself, without calling back: give the connection back then, or it stays claimed forever,
    // out of reach of the disconnect timeout, and its token answers 409.
    const created = !token;
    const release = () => {
      if (connection.status !== 'active' || connection.hubConnection) return;
      if (created) {
        this.connections.dispose(connection);
      } else {
        connection.status = 'inactive';
        connection.transportType = undefined;
        connection.inactiveSince = this.options.time.now();
      }
    };
    socket.once('close', release);
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      socket.off('close', release);
      if (connection.status === 'disposed') {
        ws.terminate();
        return;
      }
      const transport = new WebSocketTransport(ws, this.options.time);
      const hubConnection = new HubConnectionContext(
        connection.connectionId,
        user ?? undefined,
        info,
        transport,
        hub.env,
        () => this.connections.dispose(connection),
      );
      connection.hubConnection = hubConnection;
      transport.attach(hubConnection);
      this.options.logger.debug('connection.opened', {
        hub: hub.path,
        connectionId: connection.connectionId,
        transport: 'WebSockets',
        url: info.safeUrl,
      });
    });
  }

  private async authenticate(info: HttpRequestInfo): Promise<Principal | undefined> {
    if (!this.options.authenticate) return undefined;
    try {
      return (await this.options.authenticate(info)) ?? undefined;
    } catch (error) {
      this.options.logger.warn('auth.failed', { url: info.safeUrl, error: error as Error });
      return undefined;
    }
  }

  private async authorizeRequest(hub: HttpHubEndpoint, info: HttpRequestInfo) {
    return authorize(hub.env.options.authorize, await this.authenticate(info));
  }
}

function parseUrl(raw: string | undefined): URL | undefined {
  if (!raw) return undefined;
  try {
    return new URL(raw, 'http://localhost');
  } catch {
    return undefined;
  }
}
