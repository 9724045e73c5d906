import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HubProtocol } from '@switchboard/protocol';
import { HubConnectionContext, type HubConnectionEnvironment } from './connection/hub-connection-context.js';
import type { RawConnectionHandler } from './connection/raw-connection.js';
import { SwitchboardError } from './errors.js';
import { ConnectionForwarder, type ForwardingCounters } from './http/forwarding/forwarder.js';
import { HttpConnectionDispatcher } from './http/http-connection-dispatcher.js';
import { checkForwardingOptions, resolveHttpOptions } from './http/http-options.js';
import { SocketGuard } from './http/socket-guard.js';
import type { DynamicClientMethods } from './hubs/client-proxy.js';
import { Hub, type HubActivator, type HubClass, type HubClassWithDependencies } from './hubs/hub.js';
import { createHubContext, type HubContext } from './hubs/hub-context.js';
import { HubDescriptor } from './hubs/hub-descriptor.js';
import { HubDispatcher } from './hubs/hub-dispatcher.js';
import { HubRateLimiter } from './hubs/rate-limiter.js';
import { DefaultHubLifetimeManager } from './lifetime/default-hub-lifetime-manager.js';
import type { HubConnectionRef, HubLifetimeManager } from './lifetime/hub-lifetime-manager.js';
import { clusterSharedLimits, type SharedLimits } from './limits/shared-limits.js';
import { createJsonLogger, type Logger } from './logger.js';
import { type HubMetrics, noopMetrics } from './metrics.js';
import {
  type ConnectionEndpointOptions,
  type HubServerOptions,
  type MapHubOptions,
  resolveHubOptions,
  resolveProtocols,
  serverOptionDefaults,
  type TransportType,
} from './options.js';
import { DefaultPresenceStore } from './presence/default-presence-store.js';
import { DefaultHubPresence } from './presence/hub-presence.js';
import { PresenceLifetimeManager, type PresenceSource } from './presence/presence-lifetime-manager.js';
import type { PresenceStore } from './presence/presence-store.js';
import { parseUserAgent } from './presence/user-agent.js';
import type { Backplane, BackplaneHealth } from './scaleout/backplane.js';
import { observeCluster } from './telemetry/cluster-instruments.js';
import { combineMetrics, liveMeter, OpenTelemetryHubMetrics } from './telemetry/hub-instruments.js';
import { systemTimeProvider, type TimeProvider } from './time-provider.js';

/** What a forwarded request may wait beyond the long-poll timeout for the owner's answer. */
const FORWARD_RESPONSE_MARGIN_MS = 15_000;

/** A hub mapped on the server. */
interface MappedHub {
  readonly path: string;
  readonly hubClass: HubClass;
  readonly manager: HubLifetimeManager;
  /** Whether the server created the manager (and so closes it). */
  readonly ownsManager: boolean;
  readonly context: HubContext<object>;
}

/**
 * A SignalR-compatible hub server. Map hub classes to paths, attach to any Node `http.Server`
 * (plain, Express, Fastify), and the official SignalR clients connect unchanged.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { Hub, HubServer } from '@switchboard/server';
 *
 * class EchoHub extends Hub {
 *   echo(text: string) { return text; }
 * }
 * const hubs = new HubServer().mapHub('/echo', EchoHub);
 * const http = createServer();
 * hubs.attach(http);
 * http.listen(3000);
 * ```
 */
export class HubServer {
  private readonly options: HubServerOptions;
  private readonly logger: Logger;
  private readonly metrics: HubMetrics;
  private readonly time: TimeProvider;
  private readonly protocols: readonly HubProtocol[];
  private readonly http: HttpConnectionDispatcher;
  /** Request deadlines and the per-address socket cap of the servers it is attached to. */
  private readonly guard: SocketGuard;
  /** Where the limits live when the machine's workers share them. */
  private readonly sharedLimits: SharedLimits | undefined;
  private readonly hubs = new Map<string, MappedHub>();
  private closing: Promise<void> | undefined;
  /** The presence store every hub of this server shares. */
  readonly presence: PresenceStore;
  private readonly ownsPresence: boolean;
  /** The OpenTelemetry instruments, when an SDK gave a live meter. */
  private readonly instruments: OpenTelemetryHubMetrics | undefined;
  /** Stops the cluster instruments (backplane counters, presence transitions), when installed. */
  private readonly stopObserving: (() => void) | undefined;
  /** The cluster's backplane, when the server was given one. */
  readonly backplane: Backplane | undefined;

  constructor(options: HubServerOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? createJsonLogger('warn');
    this.time = options.timeProvider ?? systemTimeProvider;
    this.protocols = resolveProtocols(options);
    resolveHubOptions(options, {}); // validate the server-wide options now
    this.backplane = options.backplane;
    if (options.backplane && (options.presence || options.lifetimeManagerFactory)) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        'The backplane option gives the presence store and the lifetime managers: pass neither presence nor lifetimeManagerFactory with it.',
      );
    }
    this.ownsPresence = options.presence === undefined && options.backplane === undefined;
    this.presence =
      options.presence ??
      options.backplane?.presence ??
      new DefaultPresenceStore({
        time: this.time,
        ...(options.presenceGraceMs !== undefined ? { graceMs: options.presenceGraceMs } : {}),
      });
    // The OpenTelemetry instruments, beside the application's hooks; nothing without an SDK.
    const meter = liveMeter(options.meterProvider);
    this.instruments = meter ? new OpenTelemetryHubMetrics(meter) : undefined;
    const hooks = [
      ...(options.metrics ? [options.metrics] : []),
      ...(this.instruments ? [this.instruments] : []),
    ];
    this.metrics = hooks.length === 0 ? noopMetrics : combineMetrics(hooks);
    this.stopObserving = meter ? observeCluster(meter, this.backplane, this.presence) : undefined;
    const httpOptions = resolveHttpOptions(options, {
      logger: this.logger,
      metrics: this.metrics,
      time: this.time,
    });
    const advertiseUrl = checkForwardingOptions(options);
    const forwarder =
      options.clusterSecret === undefined
        ? undefined
        : new ConnectionForwarder({
            secret: options.clusterSecret,
            nodeId: options.backplane?.nodeId ?? randomUUID(),
            advertiseUrl,
            // A long poll may wait this long for data before the owner answers.
            responseTimeoutMs: httpOptions.longPollTimeoutMs + FORWARD_RESPONSE_MARGIN_MS,
            // A peer's hop sockets do not count toward the per-address socket cap.
            onHop: (socket) => this.guard.exempt(socket),
            logger: this.logger,
            time: this.time,
          });
    this.sharedLimits =
      options.sharedLimits === false ? undefined : (options.sharedLimits ?? clusterSharedLimits());
    this.http = new HttpConnectionDispatcher({
      ...httpOptions,
      forwarder,
      sharedLimits: this.sharedLimits,
    });
    this.guard = new SocketGuard({
      ...httpOptions.socketGuard,
      sharedLimits: this.sharedLimits,
      time: this.time,
      logger: this.logger,
      metrics: this.metrics,
    });
  }

  /**
   * Serves `hubClass` at `path` (negotiate at `{path}/negotiate`). Paths match case-insensitively.
   * A hub whose constructor takes its dependencies is mapped with an `activator` that builds it
   * (`{ activator: () => new ChatHub(deps) }`); without one the server calls `new hubClass()`.
   * Throws `SB_ERR_HUB_CONFIGURATION` for a path mapped twice or an invalid hub.
   */
  mapHub<H extends Hub<object>>(path: string, hubClass: HubClass<H>, hubOptions?: MapHubOptions<H>): this;
  mapHub<H extends Hub<object>>(
    path: string,
    hubClass: HubClassWithDependencies<H>,
    hubOptions: MapHubOptions<H> & { activator: HubActivator<H> },
  ): this;
  mapHub<H extends Hub<object>>(
    path: string,
    hubClass: HubClassWithDependencies<H>,
    hubOptions: MapHubOptions<H> = {},
  ): this {
    if (hubOptions.activator !== undefined && typeof hubOptions.activator !== 'function') {
      throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `The activator of '${path}' is not a function.`);
    }
    const key = routeKey(path);
    if (this.http.has(key)) {
      throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `The path '${path}' is already mapped.`);
    }
    const options = resolveHubOptions(this.options, hubOptions);
    const inner =
      hubOptions.lifetimeManager ??
      this.options.backplane?.lifetimeManager(path) ??
      this.options.lifetimeManagerFactory?.(path) ??
      new DefaultHubLifetimeManager();
    const manager = new PresenceLifetimeManager(
      inner,
      this.presence,
      key,
      path,
      presenceSource,
      this.logger,
      this.metrics,
    );
    const presence = new DefaultHubPresence(this.presence, key);
    this.instruments?.hubMapped(path);
    const descriptor = new HubDescriptor(hubClass as HubClass, Hub);
    const dispatcher = new HubDispatcher({
      hubPath: path,
      hubClass: hubClass as HubClass,
      ...(hubOptions.activator ? { activator: hubOptions.activator } : {}),
      descriptor,
      manager,
      presence,
      options,
      logger: this.logger,
      metrics: this.metrics,
      time: this.time,
    });
    const env: HubConnectionEnvironment = {
      hubPath: path,
      dispatcher,
      manager,
      options,
      protocols: this.protocols,
      logger: this.logger,
      metrics: this.metrics,
      clock: this.http.connections.clock,
      ...(options.rateLimit
        ? {
            rateLimiter: new HubRateLimiter(
              options.rateLimit,
              this.time,
              this.sharedLimits && { limits: this.sharedLimits, key },
            ),
          }
        : {}),
    };
    this.http.add({
      kind: 'hub',
      path,
      key,
      env,
      transports: options.transports,
      authorize: options.authorize,
    });
    this.hubs.set(key, {
      path,
      hubClass: hubClass as HubClass,
      manager: inner,
      // A backplane closes the managers it gave.
      ownsManager: hubOptions.lifetimeManager === undefined && this.options.backplane === undefined,
      context: createHubContext(manager, presence, options),
    });
    return this;
  }

  /**
   * Serves a raw connection endpoint at `path`: the same negotiate and transports as a hub, but no
   * handshake and no hub protocol. `handler` gets each connection once its transport runs; every
   * payload the client sends reaches `connection.onMessage` unchanged, and each
   * `connection.send(data)` is one transport message. Throws `SB_ERR_HUB_CONFIGURATION` for a
   * path mapped twice.
   *
   * @example
   * ```ts
   * hubs.mapConnection('/echo', (connection) => {
   *   connection.onMessage((data, isBinary) => connection.send(isBinary ? data : data.toString()));
   * });
   * ```
   */
  mapConnection(path: string, handler: RawConnectionHandler, options: ConnectionEndpointOptions = {}): this {
    const key = routeKey(path);
    if (this.http.has(key)) {
      throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `The path '${path}' is already mapped.`);
    }
    const resolved = resolveHubOptions(this.options, {
      ...(options.transports ? { transports: options.transports } : {}),
      ...(options.maxSendBufferSize !== undefined ? { maxSendBufferSize: options.maxSendBufferSize } : {}),
    });
    this.http.add({
      kind: 'raw',
      path,
      key,
      handler,
      transports: resolved.transports,
      authorize: options.authorize ?? this.options.authorize,
      maxSendBufferSize: resolved.maxSendBufferSize,
    });
    return this;
  }

  /**
   * The clients and groups of a mapped hub, for code outside hub methods.
   * @param hub - the path it was mapped at, or its class.
   */
  hubContext<T extends object = DynamicClientMethods>(hub: string | HubClass<Hub<T>>): HubContext<T> {
    const mapped =
      typeof hub === 'string'
        ? this.hubs.get(routeKey(hub))
        : [...this.hubs.values()].find((m) => m.hubClass === hub);
    if (!mapped)
      throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `No hub is mapped for '${String(hub)}'.`);
    return mapped.context as HubContext<T>;
  }

  /** The lifetime manager of a mapped hub (for introspection and tests). */
  lifetimeManager(path: string): HubLifetimeManager {
    const mapped = this.hubs.get(routeKey(path));
    if (!mapped) throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `No hub is mapped at '${path}'.`);
    return mapped.manager;
  }

  /**
   * Hooks the server into `server`: hub requests and WebSocket upgrades are served here, every
   * other request goes to the handlers the server already had (an Express or Fastify app), and
   * other upgrades to other upgrade listeners. It also guards `server` against slow and greedy
   * clients, as {@link protect} does (call one of the two, not both).
   */
  attach(server: Server): this {
    const previous = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.guard.wasRefused(req)) return;
      if (this.handleRequest(req, res)) return;
      if (previous.length === 0) {
        res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 9 });
        res.end('Not Found');
        return;
      }
      for (const listener of previous) listener.call(server, req, res);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.guard.wasRefused(req)) return;
      if (this.handleUpgrade(req, socket, head)) return;
      // Leave the socket to another upgrade listener; with none but this and the guard's, refuse it.
      if (server.listenerCount('upgrade') === 2) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      }
    });
    this.protect(server);
    return this;
  }

  /**
   * Guards `server` against slow and greedy clients without routing its requests, for apps that
   * call {@link handleRequest} and {@link handleUpgrade} themselves ({@link attach} does it too):
   * `requestHeadersTimeoutMs` for every request and socket, `maxSocketsPerIp` for every socket.
   * Hub requests get `requestBodyTimeoutMs` either way. Call it before the server listens.
   */
  protect(server: Server): this {
    this.guard.attach(server);
    return this;
  }

  /**
   * Serves `req` when it is for a hub endpoint and returns true; returns false otherwise. For
   * frameworks that want to route themselves (an Express middleware: `(req, res, next) =>
   * server.handleRequest(req, res) || next()`).
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.http.handleRequest(req, res)) return false;
    this.guard.watchBody(req, res);
    return true;
  }

  /** Serves a WebSocket upgrade when it is for a hub endpoint and returns true. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return this.http.handleUpgrade(req, socket, head);
  }

  /**
   * Resolves once the server may serve: with a backplane, once it is connected, presence joined
   * and every mapped hub subscribes to its channels (`Backplane.ready`); at once without one.
   * Rejects when the backplane cannot start. Call it after mapping the hubs, before listening.
   */
  async ready(): Promise<void> {
    await this.backplane?.ready();
  }

  /**
   * The backplane's live state for `/readyz` and `/metrics` (per hub: connected, queued,
   * counters); undefined without a backplane.
   */
  health(): BackplaneHealth | undefined {
    return this.backplane?.health();
  }

  /**
   * What this node forwarded to the owners of connections and received from peers (with
   * `clusterSecret`; docs/scale-out.md#no-sticky-sessions); undefined without forwarding.
   */
  forwarding(): Readonly<ForwardingCounters> | undefined {
    const counters = this.http.options.forwarder?.counters;
    return counters && { ...counters };
  }

  /** How many connections the server holds (negotiated or connected). */
  get connectionCount(): number {
    return this.http.connections.size;
  }

  /**
   * The connections this node holds now, by transport (a negotiated connection no transport
   * request took yet is `pending`), with the number of distinct users among them: what an
   * operator's view of the node shows.
   */
  connectionStats(): ConnectionStats {
    const byTransport: Record<TransportType, number> = { WebSockets: 0, ServerSentEvents: 0, LongPolling: 0 };
    const users = new Set<string>();
    let total = 0;
    let pending = 0;
    for (const connection of this.http.connections.values()) {
      if (connection.status === 'disposed') continue;
      total++;
      if (connection.transportType === undefined) pending++;
      else byTransport[connection.transportType]++;
      if (connection.user) users.add(connection.user.userId);
    }
    return { total, pending, byTransport, users: users.size };
  }

  /**
   * Drains and stops: refuses new connections, sends every client a Close with allowReconnect
   * (so that official clients with automatic reconnect go elsewhere), waits for the connections
   * to end (up to `drainTimeoutMs`), cuts what remains, stops every timer, and closes the
   * backplane.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.http.stopAccepting();
    const ended: Promise<void>[] = [];
    for (const connection of [...this.http.connections.values()]) {
      const application = connection.application;
      if (application) {
        ended.push(application.shutdown());
      } else {
        this.http.connections.dispose(connection);
      }
    }
    const timeout = this.options.drainTimeoutMs ?? serverOptionDefaults.drainTimeoutMs;
    let timer: ReturnType<TimeProvider['setTimeout']> | undefined;
    await Promise.race([
      Promise.all(ended),
      new Promise<void>((resolve) => {
        timer = this.time.setTimeout(resolve, timeout);
      }),
    ]);
    timer?.cancel();
    this.http.dispose();
    this.guard.dispose();
    for (const hub of this.hubs.values()) {
      if (!hub.ownsManager || !hub.manager.close) continue;
      try {
        await hub.manager.close();
      } catch (error) {
        this.logger.error('lifetime.close_failed', { hub: hub.path, error: error as Error });
      }
    }
    this.stopObserving?.();
    if (this.ownsPresence) await this.presence.close();
    if (this.backplane) {
      try {
        await this.backplane.close();
      } catch (error) {
        this.logger.error('backplane.close_failed', { error: error as Error });
      }
    }
  }
}

/** What {@link HubServer.connectionStats} answers: the connections of this node. */
export interface ConnectionStats {
  /** Every connection, negotiated or running. */
  readonly total: number;
  /** Negotiated, and not (yet) taken by a transport request. */
  readonly pending: number;
  /** Running connections by the transport they use. */
  readonly byTransport: Readonly<Record<TransportType, number>>;
  /** Distinct authenticated users among them. */
  readonly users: number;
}

/** What presence records of a connection: its transport and the device its user agent names. */
function presenceSource(connection: HubConnectionRef): PresenceSource | undefined {
  if (!(connection instanceof HubConnectionContext)) return undefined;
  return {
    transport: connection.transport,
    device: parseUserAgent(connection.request.headers['user-agent']),
  };
}

function routeKey(path: string): string {
  let key = path.toLowerCase();
  if (!key.startsWith('/')) key = `/${key}`;
  if (key.length > 1 && key.endsWith('/')) key = key.slice(0, -1);
  return key;
}
