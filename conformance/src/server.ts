/**
 * The conformance server: a {@link HubServer} with the reference functional-test app's hubs and
 * endpoints on a Node HTTP server.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  type ClusterWorkerContext,
  createJsonLogger,
  HubServer,
  jwtBearerAuthenticator,
  type Logger,
  NAME_IDENTIFIER_CLAIM,
  SUPPORTED_TRANSPORTS,
  signJwt,
  type TransportType,
} from '@switchboard/server';
import { conformanceBackplane } from './backplane.js';
import { echoConnection } from './echo.js';
import {
  applyCors,
  isNegotiatePath,
  negotiateCookies,
  refuseOtherUpgrade,
  sendText,
  serveConformanceRoute,
} from './endpoints.js';
import type { ConformanceOptions } from './options.js';
import { HubWithAuthorization, TestHub } from './test-hub.js';
import { selfSignedCertificate } from './tls.js';

/** Options of {@link startConformanceServer}: the CLI's, plus what tests want to set. */
export interface ConformanceServerOptions extends ConformanceOptions {
  /** Server logs. Default: the hub server's (warnings and errors as JSON lines on stderr). */
  logger?: Logger;
  /** How long `close()` lets connections drain. Default the hub server's (5 s). */
  drainTimeoutMs?: number;
  /** The worker this server runs in (`--workers N`): its node id, and the in-box bus. */
  worker?: ClusterWorkerContext;
}

/** A running conformance server. */
export interface ConformanceServer {
  readonly hubs: HubServer;
  readonly http: Server;
  /** The port it listens on (the real one when 0 was asked). */
  readonly port: number;
  /** `http://<host>:<port>`, the base URL of every endpoint. */
  readonly url: string;
  /** With `https`: the HTTPS server, serving the same endpoints as {@link http}. */
  readonly https?: HttpsServer;
  /** With `https`: `https://<host>:<port>`. */
  readonly httpsUrl?: string;
  /** With `https`: the self-signed certificate (PEM) made at start, for clients to trust. */
  readonly certificate?: string;
  /** The HS256 secret in use (random unless one was given). */
  readonly jwtSecret: string;
  /** The transports of `/testhub-nowebsockets`, or undefined when it is not mapped (see README). */
  readonly noWebSocketsTransports: readonly TransportType[] | undefined;
  /** Issues a token exactly as `GET /generateJwtToken?user=<user>` does. */
  issueToken(user?: string): string;
  /** Drains the hubs, then closes the HTTP server and every socket. Idempotent. */
  close(): Promise<void>;
}

/** The transports the reference offers on `/testhub-nowebsockets` that this server implements. */
export function noWebSocketsTransports(
  supported: readonly TransportType[] = SUPPORTED_TRANSPORTS,
): TransportType[] | undefined {
  const transports = supported.filter((t) => t !== 'WebSockets');
  return transports.length > 0 ? transports : undefined;
}

/**
 * Issue #4: every connection of a TestHub endpoint receives `Presence(userId, isOnline)` on each
 * transition of a user (online at their first connection, offline after their last one plus the
 * grace period).
 */
function announcePresence(hubs: HubServer, path: string): void {
  const hub = hubs.hubContext(path);
  const announce = (userId: string, isOnline: boolean) => {
    hub.clients.all.send('Presence', userId, isOnline).catch(() => undefined);
  };
  hub.presence.onUserOnline((event) => announce(event.userId, true));
  hub.presence.onUserOffline((event) => announce(event.userId, false));
}

/**
 * `GET /clientresult/{connectionId}`: client method `Result` on that TestHub connection (whichever
 * TestHub endpoint it is on, as the reference's `IHubContext<TestHub>`), answered as text: the
 * result, or the error's message (`Error: from callback`, `Client didn't provide a result.`,
 * `Connection '<id>' does not exist.`).
 */
async function clientResult(
  hubs: HubServer,
  paths: readonly string[],
  connectionId: string,
): Promise<string> {
  const missing = `Connection '${connectionId}' does not exist.`;
  let message = missing;
  for (const path of paths) {
    try {
      return String(await hubs.hubContext(path).clients.client(connectionId).invoke('Result'));
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
      if (message !== missing) return message;
    }
  }
  return message;
}

/** Starts the conformance server and resolves once it listens. */
export async function startConformanceServer(
  options: ConformanceServerOptions = {},
): Promise<ConformanceServer> {
  const jwtSecret = options.jwtSecret ?? randomBytes(32).toString('base64url');
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 5;
  const host = options.host ?? '127.0.0.1';
  let redirects = 0;
  // One logger for the hubs and the backplane: a backplane error is logged, never silent.
  const logger = options.logger ?? createJsonLogger('warn');

  // One backplane object per node (loaded only when used: a single node starts as fast as before).
  const backplane = await conformanceBackplane(options, logger, options.worker);
  // A worker (`--workers`) is reached by the others on a listener of its own: a request of a
  // connection that node:cluster handed to another worker is forwarded there.
  const privateListener = options.worker ? await options.worker.privateListener() : undefined;
  const advertiseUrl = privateListener?.url ?? options.advertiseUrl;
  const hubs = new HubServer({
    enableDetailedErrors: true,
    ...backplane?.server,
    // The nodes of a cluster forward each transport request to the node that holds its connection,
    // so a load balancer needs no sticky sessions; the JWT secret they share signs tokens and hops.
    ...(backplane ? { clusterSecret: jwtSecret } : {}),
    ...(backplane && advertiseUrl !== undefined ? { advertiseUrl } : {}),
    authenticate: jwtBearerAuthenticator({ secret: jwtSecret }),
    logger,
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
    ...(options.statefulReconnect ? { allowStatefulReconnects: true } : {}),
    ...(options.presenceGraceMs !== undefined ? { presenceGraceMs: options.presenceGraceMs } : {}),
    ...(options.rateLimit !== undefined
      ? {
          rateLimit: {
            perConnection: { rate: options.rateLimit, burst: options.rateLimit },
            perUser: false as const,
          },
        }
      : {}),
    ...(options.negotiateRate !== undefined
      ? { negotiateRateLimit: { perSecond: options.negotiateRate, burst: options.negotiateRate } }
      : {}),
    ...(options.maxConnectionsPerUser !== undefined
      ? { maxConnectionsPerUser: options.maxConnectionsPerUser }
      : {}),
    ...definedOnly({
      requestHeadersTimeoutMs: options.requestHeadersTimeoutMs,
      requestBodyTimeoutMs: options.requestBodyTimeoutMs,
      maxSocketsPerIp: options.maxSocketsPerIp,
      trustProxy: options.trustProxy,
      maxQueuedInvocations: options.maxQueuedInvocations,
      maxMessagesPerTurn: options.maxMessagesPerTurn,
    }),
  });
  // `GetNodeId()` answers the id of the node (with `--workers`, the worker) that serves the connection.
  const nodeId = hubs.backplane?.nodeId ?? hubs.presence.nodeId;
  hubs.mapHub('/testhub', TestHub, { activator: () => new TestHub(nodeId) });
  // The reference offers only ServerSentEvents and LongPolling here. A hub cannot be mapped with
  // no transport, so this endpoint exists only once the server implements one of those two.
  const noWebSockets = noWebSocketsTransports();
  if (noWebSockets) {
    hubs.mapHub('/testhub-nowebsockets', TestHub, {
      transports: noWebSockets,
      activator: () => new TestHub(nodeId),
    });
  }
  hubs.mapHub('/authorizedhub', HubWithAuthorization, { authorize: true });
  hubs.mapConnection('/echo', echoConnection);
  const testHubPaths = noWebSockets ? ['/testhub', '/testhub-nowebsockets'] : ['/testhub'];
  for (const path of testHubPaths) announcePresence(hubs, path);

  const issueToken = (user = 'testuser'): string =>
    signJwt(
      {
        sub: user,
        [NAME_IDENTIFIER_CLAIM]: user,
        iss: 'SignalRTestServer',
        aud: 'SignalRTests',
      },
      jwtSecret,
      { lifetimeSeconds },
    );
  const routes = {
    issueToken,
    nextRedirect: () => ++redirects,
    clientResult: (connectionId: string) => clientResult(hubs, testHubPaths, connectionId),
    forwarding: () => hubs.forwarding(),
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (applyCors(req, res)) return;
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (isNegotiatePath(url.pathname)) {
        const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
        res.setHeader('Set-Cookie', negotiateCookies(Date.now(), secure));
      }
      if (hubs.handleRequest(req, res)) return;
      if (serveConformanceRoute(routes, req, res, url)) return;
      sendText(res, 404, 'Not Found');
    } catch {
      if (!res.headersSent) sendText(res, 400, 'Bad Request');
      else res.destroy();
    }
  };
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (!hubs.handleUpgrade(req, socket, head)) refuseOtherUpgrade(req, socket);
  };
  const http = createServer(onRequest);
  http.on('upgrade', onUpgrade);
  // Request headers and bodies timed out, sockets per address capped (the server's options).
  hubs.protect(http);
  // HTTPS on a second port, as the reference app's Kestrel serves both: the same endpoints, with a
  // self-signed certificate made now (localhost, 127.0.0.1 and ::1).
  const tls = options.https ? await selfSignedCertificate() : undefined;
  const https = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, onRequest) : undefined;
  if (https) {
    https.on('upgrade', onUpgrade);
    hubs.protect(https);
  }
  if (tls && options.httpsCertFile) await writeFile(options.httpsCertFile, tls.cert);
  privateListener?.serve(http);

  // A node reads the log from where it stood when it first listened: clients are let in once it
  // does (bounded by ready()'s own timeout), so that sends to them from other nodes arrive.
  await (async () => {
    await hubs.ready();
    await backplane?.ready?.();
  })().catch(async (error: unknown) => {
    // The node does not start (a failed migration): what it opened is closed.
    await hubs.close();
    await backplane?.close?.();
    throw error;
  });
  const port = await listen(http, options.port ?? 0, host);
  const httpsPort = https ? await listen(https, options.httpsPort ?? 0, host) : undefined;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    hubs,
    http,
    port,
    url: `http://${shownHost}:${port}`,
    ...(https && tls ? { https, httpsUrl: `https://${shownHost}:${httpsPort}`, certificate: tls.cert } : {}),
    jwtSecret,
    noWebSocketsTransports: noWebSockets,
    issueToken,
    close() {
      closing ??= (async () => {
        await hubs.close();
        await backplane?.close?.();
        for (const server of https ? [http, https] : [http]) {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      })();
      return closing;
    },
  };
}

/** Listens on `port` of `host` and resolves with the port it got. */
async function listen(server: Server | HttpsServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** The entries of `options` that are set (the server's options distinguish absent from undefined). */
function definedOnly<T extends Record<string, unknown>>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
