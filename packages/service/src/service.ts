/**
 * {@link SwitchboardService}: one node of the service. An HTTP server with the client endpoint
 * (`/client/?hub=NAME`, negotiate at `/client/negotiate?hub=NAME`), served by a `HubServer` with
 * one {@link ServiceHub} per configured hub, and the REST API under `/api/`; the backplane of the
 * configuration joins the nodes (sends through the scale-out core, commands through
 * {@link Cluster}).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type Backplane,
  type ClusterWorkerContext,
  createJsonLogger,
  DefaultHubLifetimeManager,
  type HubContext,
  type HubLifetimeManager,
  HubServer,
  type Logger,
  type Principal,
} from '@switchboard/server';
import { InboxUserGroupStore, MemoryUserGroupStore, type UserGroupStore } from '@switchboard/server/scaleout';
import { Cluster, CONTROL_HUB_PATH } from './cluster.js';
import type { ServiceConfig } from './config.js';
import { JoiningLifetimeManager } from './joining-lifetime-manager.js';
import { LocalRegistry } from './registry.js';
import { handleRestRequest } from './rest-api.js';
import { connectingHook, type HubRuntime, ServiceHub } from './service-hub.js';
import { AccessKeys, bearerOf, userIdOf } from './tokens.js';
import { UpstreamClient } from './upstream.js';
import { serviceProtocols } from './upstream-protocol.js';

/** Where the hubs are mapped inside the server; clients use `/client/?hub=NAME`. */
const HUB_PREFIX = '/client/hubs/';
/** The header of a request another node (or worker) forwarded here: its path is the mapped hub's. */
const HOP_HEADER = 'x-switchboard-hop';

/** Options of a {@link SwitchboardService} beside its configuration. */
export interface SwitchboardServiceOptions {
  /** Structured logs. Default: JSON lines on stderr at the configured level. */
  readonly logger?: Logger;
  /**
   * For tests: runs as a connection registers, before it joins its groups (the handshake is
   * answered after both), so that a test can widen that window.
   */
  readonly beforeConnectionJoins?: (connectionId: string) => Promise<void>;
  /**
   * The worker this node runs in (`switchboard serve --workers N`, from `clusterize`): its node id
   * is the worker's; with no backplane configured it joins the other workers by the in-box bus and
   * keeps the user-group memberships in the primary; a request of a connection another worker
   * holds is forwarded there through the worker's own listener.
   */
  readonly worker?: ClusterWorkerContext;
}

/** Where a started service listens. */
export interface ServiceAddress {
  readonly host: string;
  readonly port: number;
  /** `http://HOST:PORT`, as printed in `Now listening on: …`. */
  readonly url: string;
}

/**
 * One node of the service.
 *
 * @example
 * ```ts
 * const service = new SwitchboardService(resolveConfig({ hubs: ['chat'], accessKey: 'secret', port: 8080 }));
 * const { url } = await service.start();
 * console.log(`Now listening on: ${url}`);
 * ```
 */
export class SwitchboardService {
  private readonly logger: Logger;
  private readonly keys: AccessKeys;
  private registry: LocalRegistry | undefined;
  private userGroups: UserGroupStore | undefined;
  /** The hubs' lifetime managers when no backplane closes them. */
  private readonly ownManagers: HubLifetimeManager[] = [];
  private readonly http: Server;
  private hubs: HubServer | undefined;
  private backplane: Backplane | undefined;
  private cluster: Cluster | undefined;
  private controlManager: HubLifetimeManager | undefined;
  private readonly contexts = new Map<string, HubContext>();
  /** Whether requests forwarded by other nodes are taken (a cluster secret is set). */
  private forwarding = false;
  private ready = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: ServiceConfig,
    private readonly options: SwitchboardServiceOptions = {},
  ) {
    this.logger = options.logger ?? createJsonLogger(config.logLevel);
    this.keys = new AccessKeys(config.accessKeys);
    this.http = createServer();
  }

  /** Connects the backplane, maps the hubs, joins the cluster and listens. */
  async start(): Promise<ServiceAddress> {
    const { config } = this;
    const worker = this.options.worker;
    const nodeId = worker?.nodeId ?? config.backplane.nodeId ?? randomUUID();
    this.backplane = await createServiceBackplane(config, nodeId, this.logger, worker);
    const userGroups = await createUserGroupStore(config, worker);
    this.userGroups = userGroups;
    const registry = new LocalRegistry(this.logger, userGroups);
    this.registry = registry;
    // A worker is reached by the others on a listener of its own; the nodes of a cluster forward a
    // transport request to the node that holds its connection, so no sticky sessions are needed.
    const own = worker && this.backplane ? await worker.privateListener() : undefined;
    const advertiseUrl = own?.url ?? config.advertiseUrl;
    const clusterSecret =
      this.backplane && (worker || config.clusterSecret || config.advertiseUrl)
        ? (config.clusterSecret ?? config.accessKeys[0]!)
        : undefined;
    this.forwarding = clusterSecret !== undefined;
    const hubs = new HubServer({
      ...(clusterSecret !== undefined ? { clusterSecret } : {}),
      ...(clusterSecret !== undefined && advertiseUrl !== undefined ? { advertiseUrl } : {}),
      authenticate: (request) => this.authenticateClient(request),
      authorize: true,
      protocols: serviceProtocols,
      maximumParallelInvocationsPerClient: 1,
      maximumReceiveMessageSize: config.limits.maxClientMessageBytes,
      logger: this.logger,
      ...(this.backplane ? { backplane: this.backplane } : {}),
      ...(config.corsOrigins.length > 0 ? { cors: { origins: config.corsOrigins } } : {}),
    });
    this.hubs = hubs;
    const upstream = new UpstreamClient({
      secrets: this.keys.secrets,
      timeoutMs: config.limits.upstreamTimeoutMs,
      retries: config.limits.upstreamRetries,
      retryDelayMs: config.limits.upstreamRetryDelayMs,
      maxBodyBytes: config.limits.maxBodyBytes,
      logger: this.logger,
    });
    for (const hub of config.hubs) {
      const key = hub.name.toLowerCase();
      const runtime: HubRuntime = {
        name: hub.name,
        key,
        config: hub,
        upstream,
        registry,
        logger: this.logger,
        maxUserIdLength: config.limits.maxUserIdLength,
        connectGroups: new Map(),
      };
      const path = `${HUB_PREFIX}${key}`;
      const inner = this.backplane?.lifetimeManager(path) ?? new DefaultHubLifetimeManager();
      if (!this.backplane) this.ownManagers.push(inner);
      const beforeJoins = this.options.beforeConnectionJoins;
      // The connection joins its groups as it registers: before the handshake is answered.
      const manager = new JoiningLifetimeManager(inner, {
        joined: async (connection) => {
          const groups = runtime.connectGroups.get(connection.connectionId) ?? [];
          runtime.connectGroups.delete(connection.connectionId);
          await beforeJoins?.(connection.connectionId);
          await registry.addConnection(key, connection.connectionId, connection.userIdentifier, groups);
        },
        left: (connection) => {
          runtime.connectGroups.delete(connection.connectionId);
          registry.removeConnection(key, connection.connectionId);
        },
      });
      const onConnecting = connectingHook(runtime);
      hubs.mapHub(path, ServiceHub, {
        activator: () => new ServiceHub(runtime),
        lifetimeManager: manager,
        ...(onConnecting ? { onConnecting } : {}),
      });
      const context = hubs.hubContext(path);
      this.contexts.set(key, context);
      registry.addHub(key, context);
    }
    this.controlManager =
      this.backplane?.lifetimeManager(CONTROL_HUB_PATH) ?? new DefaultHubLifetimeManager();
    await hubs.ready();
    // After the backplane's own start (its schema, on PostgreSQL, is there by then).
    await userGroups.start();
    this.cluster = new Cluster({
      manager: this.controlManager,
      nodeId,
      registry,
      timeoutMs: config.limits.clusterTimeoutMs,
      logger: this.logger,
    });
    await this.cluster.start();
    hubs.protect(this.http);
    own?.serve(this.http);
    this.http.on('request', (req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(config.port, config.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.ready = true;
    const address = this.http.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `http://${host}:${address.port}` };
  }

  /** Drains the clients, leaves the cluster and stops. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ready = false;
      await this.cluster?.close();
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      await this.hubs?.close();
      if (!this.hubs) await this.backplane?.close(); // the start failed before the hubs took it
      if (!this.backplane) {
        await this.controlManager?.close?.();
        for (const manager of this.ownManagers) await manager.close?.();
      }
      this.registry?.close();
      await this.userGroups
        ?.close()
        .catch((error: unknown) =>
          this.logger.warn('service.user_groups_close_failed', { error: (error as Error).message }),
        );
      this.http.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/api' || path.startsWith('/api/')) {
      void handleRestRequest(
        {
          config: this.config,
          keys: this.keys,
          cluster: this.cluster!,
          userGroups: this.userGroups!,
          hub: (key) => this.contexts.get(key),
          origins: (r) => this.origins(r),
          logger: this.logger,
          healthy: () => this.ready && (this.hubs?.health()?.ready ?? true),
        },
        req,
        res,
      );
      return;
    }
    const refused = this.isHop(req) ? undefined : this.routeClient(req);
    if (refused) sendJson(res, refused.status, refused.body);
    else if (!this.hubs!.handleRequest(req, res)) sendJson(res, 404, notFoundBody('No such route.'));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refused = this.isHop(req) ? undefined : this.routeClient(req);
    if (refused || !this.hubs!.handleUpgrade(req, socket, head)) {
      const status = refused?.status ?? 404;
      socket.end(
        `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Not Found'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    }
  }

  /**
   * Whether the request was forwarded by another node: it names the mapped hub's path already
   * (the hubs check its signature and refuse a forged one).
   */
  private isHop(req: IncomingMessage): boolean {
    return this.forwarding && req.headers[HOP_HEADER] !== undefined && (req.url ?? '').startsWith(HUB_PREFIX);
  }

  /**
   * Turns `/client/?hub=NAME` and `/client/negotiate?hub=NAME` into the mapped hub's path (the
   * query kept), or says why not.
   */
  private routeClient(req: IncomingMessage): { status: number; body: unknown } | undefined {
    const raw = req.url ?? '/';
    const at = raw.indexOf('?');
    const path = at < 0 ? raw : raw.slice(0, at);
    const search = at < 0 ? '' : raw.slice(at);
    const match = /^\/client(\/negotiate)?\/?$/i.exec(path);
    if (!match) return { status: 404, body: notFoundBody('No such route.') };
    const hub = hubParam(search);
    if (!hub) {
      return {
        status: 400,
        body: {
          error: {
            code: 'SB_ERR_SVC_INVALID_REQUEST',
            message: 'The hub query parameter is required.',
            field: 'hub',
          },
        },
      };
    }
    const key = hub.toLowerCase();
    if (!this.contexts.has(key))
      return { status: 404, body: notFoundBody(`The hub '${hub}' is not configured.`) };
    req.url = `${HUB_PREFIX}${key}${match[1] ? '/negotiate' : ''}${search}`;
    return undefined;
  }

  /** Clients: an HS256 JWT signed with an access key, `exp` required, audience the hub URL. */
  private async authenticateClient(request: {
    readonly path: string;
    readonly headers: IncomingMessage['headers'];
    readonly query: { get(key: string): string | null };
  }): Promise<Principal | null> {
    const token = bearerOf(request.headers.authorization) ?? request.query.get('access_token') ?? undefined;
    if (!token) return null;
    const hub = request.query.get('hub') ?? '';
    const wanted = this.origins(request).flatMap((origin) =>
      [`${origin}/client/?hub=${hub}`, `${origin}/client?hub=${hub}`].map((u) => u.toLowerCase()),
    );
    const result = await this.keys.verify(token, (audience) => wanted.includes(audience.toLowerCase()));
    if (!result.ok) {
      this.logger.debug('service.client_token_refused', {
        code: 'SB_ERR_SVC_UNAUTHORIZED',
        reason: result.reason,
      });
      return null;
    }
    const claims = result.claims;
    return {
      userId: userIdOf(claims) ?? '',
      claims: claims as Record<string, unknown>,
      ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp * 1000 } : {}),
    };
  }

  /** The origins a token's audience may name: the public URL, and the request's Host over http and https. */
  private origins(request: { readonly headers: IncomingMessage['headers'] }): string[] {
    const origins: string[] = [];
    if (this.config.publicUrl) origins.push(this.config.publicUrl);
    const host = request.headers.host;
    if (host) origins.push(`http://${host}`, `https://${host}`);
    return origins;
  }
}

/** The backplane of the configuration (loaded only when used), or undefined for one node. */
async function createServiceBackplane(
  config: ServiceConfig,
  nodeId: string,
  logger: Logger,
  worker: ClusterWorkerContext | undefined,
): Promise<Backplane | undefined> {
  const { kind, url, prefix } = config.backplane;
  const common = { nodeId, prefix, protocols: serviceProtocols, logger };
  switch (kind) {
    case 'none':
      // The workers of one machine: the in-box bus, through the primary process.
      return worker?.inboxBackplane({ protocols: serviceProtocols, logger });
    case 'redis': {
      const { redisBackplane } = await import('@switchboard/backplane-redis');
      return redisBackplane({ ...common, url: url! });
    }
    case 'postgres': {
      const { postgresBackplane } = await import('@switchboard/backplane-postgres');
      return postgresBackplane({ ...common, url: url! });
    }
    case 'nats': {
      const { natsBackplane } = await import('@switchboard/backplane-nats');
      return natsBackplane({ ...common, url: url! });
    }
  }
}

/**
 * Where the cluster's user-group memberships are kept: in the backplane's backend (every node
 * reads the same), in the primary process for the workers of one machine, in memory for one node.
 */
async function createUserGroupStore(
  config: ServiceConfig,
  worker: ClusterWorkerContext | undefined,
): Promise<UserGroupStore> {
  const { kind, url, prefix } = config.backplane;
  switch (kind) {
    case 'none':
      return worker ? new InboxUserGroupStore() : new MemoryUserGroupStore();
    case 'redis': {
      const { RedisUserGroupStore } = await import('@switchboard/backplane-redis');
      return new RedisUserGroupStore({ url: url!, prefix });
    }
    case 'postgres': {
      const { PostgresUserGroupStore } = await import('@switchboard/backplane-postgres');
      return new PostgresUserGroupStore({ url: url!, prefix });
    }
    case 'nats': {
      const { NatsUserGroupStore } = await import('@switchboard/backplane-nats');
      return new NatsUserGroupStore({ servers: url!, prefix });
    }
  }
}

/** The `hub` query parameter (any case of its name). */
function hubParam(search: string): string | undefined {
  for (const [key, value] of new URLSearchParams(search))
    if (key.toLowerCase() === 'hub' && value) return value;
  return undefined;
}

function notFoundBody(message: string): unknown {
  return { error: { code: 'SB_ERR_SVC_NOT_FOUND', message } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
