/**
 * Operations endpoints: `GET /healthz` (the process answers), `GET /readyz` (the storage answers,
 * and the backplane when there is one)
 * and `GET /metrics` (Prometheus text format from OpenTelemetry's Prometheus exporter, only with
 * the bearer token `METRICS_TOKEN`; docs/server.md lists the names).
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChatError } from '../errors.js';
import type { ChatStorage } from '../storage/storage.js';
import { bearer, sendJson } from './json.js';
import type { Router } from './router.js';

/** Adds the operations routes. */
export function addOpsRoutes(
  router: Router,
  options: {
    storage: ChatStorage;
    nodeId: string;
    /** Writes the Prometheus text of every instrument (the app's OpenTelemetry Prometheus reader). */
    serveMetrics: (req: IncomingMessage, res: ServerResponse) => void;
    /** With a backplane: resolves when it answers (see {@link backplaneReadiness}). */
    backplaneReady?: () => Promise<void>;
    /** The bearer token `/metrics` requires; without one `/metrics` is refused. */
    metricsToken?: string | undefined;
  },
): void {
  router
    .on('GET', '/healthz', ({ res }) => sendJson(res, 200, { status: 'ok', nodeId: options.nodeId }))
    .on('GET', '/readyz', async ({ res }) => {
      try {
        await withTimeout(options.storage.ping(), 2_000);
      } catch {
        throw new ChatError('SB_CHAT_STORAGE_UNAVAILABLE', 'The storage does not answer.');
      }
      if (options.backplaneReady) {
        try {
          await withTimeout(options.backplaneReady(), 2_000);
        } catch {
          throw new ChatError('SB_CHAT_BACKPLANE_UNREACHABLE', 'The backplane does not answer.');
        }
      }
      sendJson(res, 200, {
        status: 'ready',
        storage: options.storage.kind,
        ...(options.backplaneReady ? { backplane: 'reachable' } : {}),
      });
    })
    .on('GET', '/metrics', ({ req, res }) => {
      if (!metricsAllowed(options.metricsToken, bearer(req))) {
        throw new ChatError(
          'SB_CHAT_BAD_CREDENTIALS',
          options.metricsToken
            ? '/metrics needs the bearer token METRICS_TOKEN.'
            : '/metrics is off: set METRICS_TOKEN and send it as a bearer token.',
        );
      }
      options.serveMetrics(req, res);
    });
}

/** Whether `given` is the metrics token (compared in constant time); never without a token. */
function metricsAllowed(token: string | undefined, given: string | undefined): boolean {
  if (token === undefined || given === undefined) return false;
  const a = createHash('sha256').update(token).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** The presence group `/readyz` counts through the presence store (nobody joins it). */
const READY_PROBE_GROUP = 'switchboard:readyz';

/**
 * A readiness check of the backplane: it says it is ready (`hubs.health().ready`: started, and
 * every hub's bus connected) and the presence store answers a query (it rejects, or never
 * answers, while its server is down).
 */
export function backplaneReadiness(
  ready: () => boolean,
  presence: { groupConnectionCount(group: string): Promise<number> },
): () => Promise<void> {
  return async () => {
    if (!ready()) throw new Error('disconnected');
    await presence.groupConnectionCount(READY_PROBE_GROUP);
  };
}

/**
 * Whether a lifetime manager that is not on a backplane object says it is connected (a
 * `connected` flag; true when it has none).
 */
export function connectedFlag(manager: unknown): boolean {
  return (manager as { connected?: unknown }).connected !== false;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
