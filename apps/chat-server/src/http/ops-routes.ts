/**
 * Operations endpoints: `GET /healthz` (the process answers), `GET /readyz` (the storage answers,
 * and the backplane when there is one)
 * and `GET /metrics` (Prometheus text format).
 * @module
 */
import type { CounterMetrics } from '@switchboard/server';
import type { ChatCounters } from '../domain/ports.js';
import { ChatError } from '../errors.js';
import type { BackplaneLagSnapshot } from '../hub/backplane-lag.js';
import type { ChatStorage } from '../storage/storage.js';
import { sendJson } from './json.js';
import type { Router } from './router.js';

/** Adds the operations routes. */
export function addOpsRoutes(
  router: Router,
  options: {
    storage: ChatStorage;
    metrics: CounterMetrics;
    counters: ChatCounters;
    nodeId: string;
    /** The backplane's counters now (the hub's lifetime manager), when there is a backplane. */
    backplane?: () => BackplaneCounters | undefined;
    /** With a backplane: resolves when it answers (see {@link backplaneReadiness}). */
    backplaneReady?: () => Promise<void>;
    /** What the backplane lag probe saw, when it runs. */
    lag?: () => BackplaneLagSnapshot;
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
    .on('GET', '/metrics', ({ res }) => {
      const text = renderMetrics(options.metrics, options.counters, options.backplane?.(), options.lag?.());
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
    });
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

/**
 * A backplane's numeric counters by name (`RedisHubLifetimeManager.counters`, and the like of the
 * PostgreSQL one): `replayed`, `duplicatesDropped`, `lost`, `queueOverflows`, `reconnects`, ...
 */
export type BackplaneCounters = Readonly<Record<string, unknown>>;

/** Backplane counters that are gauges (a level now), not totals. */
const BACKPLANE_GAUGES = new Set(['subscribedChannels', 'lagRows', 'lagMs', 'lagSeconds', 'queueLength']);

/**
 * The counters of the hub's lifetime manager when it has any (a backplane's), else undefined.
 * Duck-typed: any manager with a `counters` object of numbers is exported.
 */
export function backplaneCountersOf(manager: unknown): BackplaneCounters | undefined {
  const counters = (manager as { counters?: unknown } | undefined)?.counters;
  return counters !== null && typeof counters === 'object' ? (counters as BackplaneCounters) : undefined;
}

/**
 * The hub server's counters, the chat's and the backplane's (each numeric backplane counter as
 * `switchboard_backplane_<name>_total`, levels as gauges), in Prometheus text format.
 */
export function renderMetrics(
  metrics: CounterMetrics,
  counters: ChatCounters,
  backplane?: BackplaneCounters,
  lag?: BackplaneLagSnapshot,
): string {
  const s = metrics.snapshot();
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric('signalr_server_active_connections', 'gauge', 'Connections open now.', [['', s.activeConnections]]);
  metric('switchboard_connections_opened_total', 'counter', 'Connections opened.', [
    ['', s.connectionsOpened],
  ]);
  metric('switchboard_connections_closed_total', 'counter', 'Connections closed.', [
    ['', s.connectionsClosed],
  ]);
  metric('switchboard_invocations_total', 'counter', 'Hub method invocations.', [['', s.invocations]]);
  metric('switchboard_invocations_failed_total', 'counter', 'Hub method invocations that failed.', [
    ['', s.invocationsFailed],
  ]);
  metric('switchboard_messages_received_total', 'counter', 'Hub messages received from clients.', [
    ['', s.messagesReceived],
  ]);
  metric('switchboard_messages_sent_total', 'counter', 'Writes to clients.', [['', s.messagesSent]]);
  metric('switchboard_bytes_received_total', 'counter', 'Bytes received from clients.', [
    ['', s.bytesReceived],
  ]);
  metric('switchboard_bytes_sent_total', 'counter', 'Bytes written to clients.', [['', s.bytesSent]]);
  metric(
    'switchboard_errors_total',
    'counter',
    'Server errors by catalogue code.',
    Object.entries(s.errors).map(([code, n]) => [`{code="${code}"}`, n]),
  );
  metric('chat_messages_stored_total', 'counter', 'Chat messages stored.', [['', counters.messagesStored]]);
  metric('chat_typing_dropped_total', 'counter', 'Typing notices dropped (rate or membership).', [
    ['', counters.typingDropped],
  ]);
  metric(
    'chat_refusals_total',
    'counter',
    'Hub calls refused, by chat error code.',
    [...counters.refusals].map(([code, n]) => [`{code="${code}"}`, n]),
  );
  for (const [key, value] of Object.entries(backplane ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_');
    const gauge = BACKPLANE_GAUGES.has(key);
    metric(
      `switchboard_backplane_${snake}${gauge ? '' : '_total'}`,
      gauge ? 'gauge' : 'counter',
      `Backplane ${gauge ? 'level' : 'counter'} '${key}' of this node's hub lifetime manager.`,
      [['', value]],
    );
  }
  if (lag) {
    metric(
      'switchboard_backplane_lag_seconds',
      'gauge',
      "Delay of the last lag probe from each other node through the backplane (includes the hosts' clock offset).",
      [...lag.lastLagMs].map(([from, ms]) => [`{from="${escapeLabel(from)}"}`, ms / 1000]),
    );
    metric('switchboard_backplane_lag_probes_total', 'counter', 'Lag probes received from other nodes.', [
      ['', lag.probesReceived],
    ]);
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
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
