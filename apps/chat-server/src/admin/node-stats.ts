/**
 * One node's snapshot for the admin view: its connections by transport and users (from the hub
 * server), its backplane's state and counters summed over its hubs, its lag probe, the refusals by
 * error code the chat counts for `/metrics`, and its webhook deliveries (from a provider the
 * webhooks plug in; none yet: `configured: false` and zeros).
 * @module
 */
import type {
  AdminBackplaneStats,
  AdminLagStats,
  AdminNodeStats,
  AdminWebhookStats,
} from '@switchboard/chat-contract';
import type { BackplaneHealth, ConnectionStats } from '@switchboard/server';
import type { ChatCounters } from '../domain/ports.js';
import type { BackplaneLagSnapshot } from '../hub/backplane-lag.js';

/**
 * Where the admin view reads webhook deliveries from. The node has none until webhooks are wired:
 * {@link NO_WEBHOOKS} says so (`configured: false`, zeros).
 */
export interface WebhookStatsProvider {
  /** The node's deliveries so far. */
  webhookStats(): AdminWebhookStats;
}

/** A node without webhooks: not configured, nothing delivered. */
export const NO_WEBHOOKS: WebhookStatsProvider = {
  webhookStats: () => ({ configured: false, delivered: 0, failed: 0, pending: 0 }),
};

/** What a node's snapshot is read from. */
export interface NodeStatsSources {
  readonly nodeId: string;
  /** The hub server's connections (`HubServer.connectionStats()`). */
  connections(): ConnectionStats;
  /** The backplane's health (`HubServer.health()`); undefined on a single node. */
  health(): BackplaneHealth | undefined;
  /** The chat's counters (refusals by code, messages stored). */
  readonly counters: ChatCounters;
  /** The lag probe's snapshot, when the node runs one. */
  readonly lag?: (() => BackplaneLagSnapshot) | undefined;
  /** Webhook deliveries (default {@link NO_WEBHOOKS}). */
  readonly webhooks?: WebhookStatsProvider | undefined;
  /** The clock (ms since the epoch). */
  readonly now?: () => number;
}

/** Takes the node's snapshot now. */
export function collectNodeStats(sources: NodeStatsSources): AdminNodeStats {
  const connections = sources.connections();
  const byCode: Record<string, number> = {};
  let total = 0;
  for (const [code, n] of sources.counters.refusals) {
    byCode[code] = n;
    total += n;
  }
  return {
    nodeId: sources.nodeId,
    collectedAt: new Date((sources.now ?? Date.now)()).toISOString(),
    connections: {
      total: connections.total,
      pending: connections.pending,
      byTransport: { ...connections.byTransport },
    },
    usersOnline: connections.users,
    backplane: backplaneStats(sources.health()),
    lag: sources.lag ? lagStats(sources.lag()) : null,
    errors: { total, byCode },
    webhooks: (sources.webhooks ?? NO_WEBHOOKS).webhookStats(),
    messagesStored: sources.counters.messagesStored,
  };
}

/** The backplane's counters summed over the node's hubs; null without a backplane. */
export function backplaneStats(health: BackplaneHealth | undefined): AdminBackplaneStats | null {
  if (!health) return null;
  const sum = {
    queued: 0,
    published: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    replayed: 0,
    duplicatesDropped: 0,
    lost: 0,
    reconnects: 0,
    errors: 0,
    queueOverflows: 0,
  };
  for (const hub of Object.values(health.hubs)) {
    const c = hub.counters;
    sum.queued += hub.queued;
    sum.published += c.published;
    sum.messagesReceived += c.messagesReceived;
    sum.bytesReceived += c.bytesReceived;
    sum.replayed += c.replayed;
    sum.duplicatesDropped += c.duplicatesDropped;
    sum.lost += c.lost;
    sum.reconnects += c.reconnects;
    sum.errors += c.errors;
    sum.queueOverflows += c.queueOverflows;
  }
  return { backend: health.backend, ready: health.ready, ...sum };
}

function lagStats(snapshot: BackplaneLagSnapshot): AdminLagStats {
  return { lastMs: Object.fromEntries(snapshot.lastLagMs), probesReceived: snapshot.probesReceived };
}
