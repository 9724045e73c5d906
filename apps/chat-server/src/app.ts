/**
 * Wires the chat together: storage (migrated), tokens, domain services, the hub at `/hubs/chat`,
 * the HTTP APIs and the operations endpoints, on one Node `http.Server`.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ClusterWorkerContext, type HubContext, HubServer, type Logger } from '@switchboard/server';
import {
  addAdminRoutes,
  authorizeApiKeyOrAdmin,
  type RunningAdminStats,
  startAdminStats,
  type WebhookStatsProvider,
} from './admin/index.js';
import { HostTokenVerifier } from './auth/host-tokens.js';
import { resolveJwtSecret, TokenService } from './auth/tokens.js';
import { chatBackplane } from './backplane.js';
import type { ChatConfig } from './config.js';
import { AccountService } from './domain/accounts.js';
import { AttachmentService } from './domain/attachments.js';
import { HostUserService } from './domain/host-users.js';
import { LoginThrottle } from './domain/login-throttle.js';
import { MessageService } from './domain/messages.js';
import { newCounters, type ServiceDeps, systemClock } from './domain/ports.js';
import { ProfileService } from './domain/profiles.js';
import { RoomSettingsService } from './domain/room-settings.js';
import { RoomService } from './domain/rooms.js';
import { SupportService } from './domain/support.js';
import { ThreadService } from './domain/threads.js';
import { addApiV1Routes } from './http/api-v1/register.js';
import { addAttachmentRoutes } from './http/attachment-routes.js';
import { addAuthRoutes } from './http/auth-routes.js';
import { applyCors, hubOrigins } from './http/cors.js';
import { sendError } from './http/json.js';
import { addOpsRoutes, backplaneReadiness, connectedFlag } from './http/ops-routes.js';
import { addProfileRoutes } from './http/profile-routes.js';
import { Router } from './http/router.js';
import { serveWebApp, widgetFrameAncestors } from './http/static.js';
import { BackplaneLagProbe } from './hub/backplane-lag.js';
import { ChatHub } from './hub/chat-hub.js';
import { wireChatPresence } from './hub/chat-presence.js';
import { chatErrorFilter } from './hub/error-filter.js';
import { HubNotifier, tokenGroup } from './hub/hub-notifier.js';
import { roomExtras } from './hub/room-extras-hub.js';
import { connectionLimits, invokeRateLimit } from './limits.js';
import { createLogger } from './logger.js';
import { createBlobStore, createStorage } from './storage/create-storage.js';
import type { ChatStorage } from './storage/storage.js';
import { chatMeter, createChatTelemetry, observeChat, observeWebhooks } from './telemetry.js';
import { webhookAdminView } from './webhooks/admin-view.js';
import type { WebhookDispatcherOptions } from './webhooks/dispatcher.js';
import { addWebhookRoutes } from './webhooks/routes.js';
import { type ChatWebhooks, startWebhooks } from './webhooks/webhooks.js';

/** The path of the chat hub. */
export const CHAT_HUB_PATH = '/hubs/chat';

/** A running (or ready to listen) chat server. */
export interface ChatApp {
  readonly config: ChatConfig;
  /** The HTTP server: hub endpoints, `/api/*`, `/healthz`, `/readyz`, `/metrics`. */
  readonly http: Server;
  readonly hubs: HubServer;
  readonly storage: ChatStorage;
  readonly accounts: AccountService;
  /** Uploaded files (`sweep()` removes those no message took within a day; it also runs hourly). */
  readonly attachments: AttachmentService;
  /** The webhooks: the outbox's dispatcher, its store, and the numbers of the admin view. */
  readonly webhooks: ChatWebhooks;
  /** Listens on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>;
  /** Drains hub connections (clients are told to reconnect elsewhere), stops HTTP, closes storage. */
  close(): Promise<void>;
}

/** Options for tests and embedding. */
export interface ChatAppOptions {
  /** A storage to use instead of the configured one (it is migrated). */
  readonly storage?: ChatStorage;
  /** A logger instead of pino at `config.logLevel`. */
  readonly logger?: Logger;
  /** How long close() waits for hub connections. Default 5,000 ms. */
  readonly drainTimeoutMs?: number;
  /** The built web app served at `/`. Default `apps/chat-web/dist`. */
  readonly webRoot?: string;
  /**
   * The worker this app runs in (`WORKERS`): its node id is `config.nodeId`, and without a
   * backplane it joins the machine's other workers by the in-box bus.
   */
  readonly worker?: ClusterWorkerContext;
  /** Webhook deliveries for the admin view (without one it says "not configured"). */
  readonly webhookStats?: WebhookStatsProvider;
  /** The webhooks' dispatcher: an injected clock, a shorter timeout or poll (tests). */
  readonly webhooks?: Pick<WebhookDispatcherOptions, 'now' | 'timeoutMs' | 'pollMs' | 'leaseMarginMs'>;
}

/**
 * Builds the chat server from a configuration. With `REDIS_URL` (and PostgreSQL storage) the hub
 * and presence run on `redisBackplane`, under `BACKPLANE_PREFIX` as node `NODE_ID`. With
 * `BACKPLANE=postgres` they run on `postgresBackplane` on `BACKPLANE_URL` (else `DATABASE_URL`), in
 * the schema named after `BACKPLANE_PREFIX`.
 *
 * @example
 * ```ts
 * const app = await createChatApp(loadConfig());
 * console.log(await app.listen());
 * process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
 * ```
 */
export async function createChatApp(config: ChatConfig, options: ChatAppOptions = {}): Promise<ChatApp> {
  const logger = options.logger ?? createLogger(config.logLevel, config.nodeId).server;
  const storage = options.storage ?? createStorage(config);
  await storage.migrate();
  const jwtSecret = await resolveJwtSecret(config.jwtSecret, storage);
  // The host app's users (AUTH_*): their tokens beside ours, their `sub`s the server API's ids.
  const hostUsers = config.hostAuth ? new HostUserService(storage, config.hostAuth.issuer) : undefined;
  const hostTokens =
    config.hostAuth && hostUsers ? new HostTokenVerifier(config.hostAuth, hostUsers, logger) : undefined;
  const tokens = new TokenService(jwtSecret, storage, hostTokens);
  const telemetry = createChatTelemetry(config.nodeId);
  const counters = newCounters();

  let hubContext: HubContext | undefined;
  const services: ServiceDeps = {
    storage,
    notifier: new HubNotifier(() => hubContext!, CHAT_HUB_PATH),
    limits: config,
    counters,
    ...systemClock,
  };
  const rooms = new RoomService(services);
  const blobStore = createBlobStore(config, storage);
  const attachments = new AttachmentService(services, rooms, blobStore, config);
  const profiles = new ProfileService(services, blobStore, config.maxAttachmentBytes);
  const messages = new MessageService(services, rooms, attachments);
  const threads = new ThreadService(services, rooms);
  const support = new SupportService(services, rooms, messages);
  const throttle = new LoginThrottle(storage, {
    limit: config.loginAccountLimit,
    maxBackoffSeconds: config.loginBackoffMaxSeconds,
    perAddressPerMinute: config.loginRateLimit,
  });
  const accounts = new AccountService(
    storage,
    tokens,
    {
      // Logout: only that token's connections end, on every node (the connections in its group).
      tokenRevoked: async (jti) => {
        try {
          const hub = hubContext!;
          const connections = await hub.presence.groupConnections(tokenGroup(jti));
          await Promise.all(
            connections.map((c) => hub.connections.close(c.connectionId, { reason: 'Signed out.' })),
          );
        } catch (error) {
          logger.warn('chat.logout.close_failed', { error });
        }
      },
      // Password change: every token of the user stops working, so every connection ends.
      userRevoked: async (userId, reason) => {
        try {
          await hubContext!.connections.closeUser(userId, {
            reason: reason ?? 'The password was changed; sign in again.',
          });
        } catch (error) {
          logger.warn('chat.logout.close_failed', { error });
        }
      },
    },
    throttle,
  );

  // One backplane object per node (chatBackplane: one entry per BACKPLANE value).
  const backplane = await chatBackplane(config, logger, options.worker);
  // A worker (`WORKERS`) is reached by the others on a listener of its own: a request of a
  // connection that node:cluster handed to another worker is forwarded there.
  const privateListener = options.worker ? await options.worker.privateListener() : undefined;
  const advertiseUrl = privateListener?.url ?? config.advertiseUrl;
  const hubs = new HubServer({
    ...backplane?.server,
    // Nodes forward each transport request to the node that holds its connection (no sticky
    // sessions needed); the JWT secret they share signs the tokens that name it and the hops.
    ...(backplane ? { clusterSecret: jwtSecret } : {}),
    ...(backplane && advertiseUrl !== undefined ? { advertiseUrl } : {}),
    authenticate: tokens.authenticator(),
    meterProvider: telemetry.meterProvider,
    logger,
    drainTimeoutMs: options.drainTimeoutMs ?? 5_000,
    presenceGraceMs: config.presenceGraceMs,
    ...connectionLimits(config),
    ...hubOrigins(config.allowedOrigins),
  });
  let adminStats: RunningAdminStats | undefined;
  const chatHubDeps = {
    admin: () => adminStats?.service,
    services,
    rooms,
    messages,
    threads,
    support,
    logger,
    roomSettings: new RoomSettingsService(services),
    profiles,
    extras: roomExtras(services, rooms, messages),
  };
  hubs.mapHub(CHAT_HUB_PATH, ChatHub, {
    activator: () => new ChatHub(chatHubDeps),
    authorize: true,
    filters: [chatErrorFilter(counters, logger)],
    rateLimit: invokeRateLimit(config),
  });
  hubContext = hubs.hubContext(CHAT_HUB_PATH);
  // The node subscribes (and, on a log, knows its position) before clients come in.
  await hubs.ready();
  await backplane?.ready?.();
  const lagProbe =
    config.backplane !== 'none' && config.backplaneLagProbeMs > 0
      ? new BackplaneLagProbe(
          hubs.lifetimeManager(CHAT_HUB_PATH),
          config.nodeId,
          config.backplaneLagProbeMs,
          logger,
        )
      : undefined;
  await lagProbe?.start();
  observeChat(chatMeter(telemetry.meterProvider), counters, lagProbe ? () => lagProbe.snapshot() : undefined);
  const unwirePresence = wireChatPresence(hubContext.presence, services, support, logger);
  // The outbox's dispatcher: every node sends, each delivery leased to one node at a time.
  const webhooks = await startWebhooks({
    storage,
    nodeId: config.nodeId,
    logger,
    webhookUrl: config.webhookUrl,
    webhookSecret: config.webhookSecret,
    graceMs: config.presenceGraceMs,
    isOnline: (userId) => services.notifier.isOnline(userId),
    ...options.webhooks,
  });
  observeWebhooks(chatMeter(telemetry.meterProvider), webhooks.dispatcher.counters);
  const webhookView = webhookAdminView(webhooks);
  adminStats = await startAdminStats({
    nodeId: config.nodeId,
    hubs,
    manager: hubs.lifetimeManager(CHAT_HUB_PATH),
    hub: hubContext,
    storage,
    counters,
    lag: lagProbe ? () => lagProbe.snapshot() : undefined,
    webhooks: options.webhookStats ?? webhookView,
    logger,
  });

  const router = new Router();
  addAuthRoutes(router, {
    accounts,
    storage,
    trustProxy: config.trustProxy,
    guestRateLimit: config.guestRateLimit,
    registerRateLimit: config.registerRateLimit,
  });
  addAttachmentRoutes(router, { accounts, attachments });
  addApiV1Routes(router, {
    services,
    rooms,
    messages,
    // Without AUTH_ISSUER the API's user ids live in the namespace of the empty issuer.
    hostUsers: hostUsers ?? new HostUserService(storage, ''),
    disconnectUser: (userId) =>
      hubContext!.connections.closeUser(userId, { reason: 'Disconnected by the host app.' }),
  });
  addProfileRoutes(router, { accounts, profiles });
  // Scripts read these with an API key (the server API's) or an admin's bearer token.
  const apiKeyOrAdmin = (req: IncomingMessage) => authorizeApiKeyOrAdmin(req, storage, accounts);
  addAdminRoutes(router, { accounts, admin: adminStats.service, authorize: apiKeyOrAdmin });
  addWebhookRoutes(router, {
    store: webhooks.store,
    authorize: async (req) => void (await apiKeyOrAdmin(req)),
  });
  addOpsRoutes(router, {
    storage,
    nodeId: config.nodeId,
    metricsToken: config.metricsToken,
    serveMetrics: telemetry.serveMetrics,
    ...(config.backplane === 'none'
      ? {}
      : {
          backplaneReady: backplaneReadiness(
            () => hubs.health()?.ready ?? connectedFlag(hubs.lifetimeManager(CHAT_HUB_PATH)),
            hubContext.presence,
          ),
        }),
  });

  const web = serveWebApp(options.webRoot, {
    frameAncestors: config.frameAncestors,
    widgetFrameAncestors: widgetFrameAncestors(config.allowedOrigins, config.frameAncestors),
  });
  if (!web.built)
    logger.warn('chat.web.not_built', { hint: 'run `npm run build` to serve the web app at /' });
  const onError = (error: unknown) => logger.error('http.request.failed', { error });
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    try {
      if (applyCors(req, res, config.allowedOrigins)) return;
      if (web(req, res)) return;
      void router.handle(req, res, onError);
    } catch (error) {
      onError(error);
      sendError(res, error);
    }
  });
  // The hub server serves its endpoints and upgrades first (CORS and the origin check of
  // ALLOWED_ORIGINS, see hubOrigins) and guards every socket of the server: the request headers
  // and body deadlines and MAX_SOCKETS_PER_IP. Everything else comes to the handler above.
  hubs.attach(http);
  privateListener?.serve(http);

  // Uploads no message took are removed after a day; every node sweeps (the deletes are idempotent).
  const sweeper = setInterval(() => {
    attachments.sweep().catch((error) => logger.warn('chat.attachments.sweep_failed', { error }));
  }, 3_600_000);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  return {
    config,
    http,
    hubs,
    storage,
    accounts,
    attachments,
    webhooks,
    listen() {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          http.off('error', reject);
          const address = http.address() as AddressInfo;
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          const url = `http://${host === '[::]' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}`;
          logger.info('chat.listening', {
            url,
            storage: storage.kind,
            backplane: config.backplane,
            nodeId: config.nodeId,
          });
          resolve(url);
        });
      });
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await lagProbe?.stop();
        await adminStats?.stop();
        webhookView.stop();
        await hubs.close();
        await webhooks.close();
        unwirePresence();
        await backplane?.presence?.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await storage.close();
        await telemetry.shutdown().catch(() => undefined);
        logger.info('chat.closed', { nodeId: config.nodeId });
      })();
      return closing;
    },
  };
}
