/**
 * The live admin view of the chat: per-node snapshots ({@link collectNodeStats}), their gathering
 * across the cluster ({@link AdminStatsCollector}), the hub methods' service and push
 * ({@link AdminStatsService}), and `GET /api/v1/admin/stats` ({@link addAdminRoutes}).
 * {@link startAdminStats} wires them on one node.
 * @module
 */
import type {
  BackplaneHealth,
  ConnectionStats,
  HubContext,
  HubLifetimeManager,
  Logger,
} from '@switchboard/server';
import type { ChatCounters } from '../domain/ports.js';
import type { BackplaneLagSnapshot } from '../hub/backplane-lag.js';
import type { ChatStorage } from '../storage/storage.js';
import { AdminStatsService } from './admin-stats.js';
import { AdminStatsCollector } from './collector.js';
import { collectNodeStats, type WebhookStatsProvider } from './node-stats.js';

export {
  ADMIN_STATS_PATH,
  type AdminCaller,
  addAdminRoutes,
  authorizeAdmin,
  authorizeApiKeyOrAdmin,
} from './admin-routes.js';
export { ADMIN_STATS_EVENT, ADMIN_WATCH_GROUP, AdminStatsService, requireAdmin } from './admin-stats.js';
export { ADMIN_STATS_GROUP, AdminStatsCollector } from './collector.js';
export { collectNodeStats, NO_WEBHOOKS, type WebhookStatsProvider } from './node-stats.js';

/** What {@link startAdminStats} reads a node from. */
export interface AdminStatsWiring {
  readonly nodeId: string;
  /** The hub server's connections, backplane health and presence node id. */
  readonly hubs: {
    connectionStats(): ConnectionStats;
    health(): BackplaneHealth | undefined;
    readonly presence: { readonly nodeId: string };
  };
  /** The chat hub's lifetime manager (the collector joins it) and context. */
  readonly manager: HubLifetimeManager;
  readonly hub: HubContext;
  readonly storage: ChatStorage;
  readonly counters: ChatCounters;
  readonly lag?: (() => BackplaneLagSnapshot) | undefined;
  /** Webhook deliveries; without one the view says "not configured". */
  readonly webhooks?: WebhookStatsProvider | undefined;
  readonly logger: Logger;
  /** How often watchers get fresh numbers. Default 1,500 ms. */
  readonly intervalMs?: number;
}

/** A node's running admin view. */
export interface RunningAdminStats {
  readonly service: AdminStatsService;
  /** Stops the push and leaves the lifetime manager (before the hubs close). */
  stop(): Promise<void>;
}

/** Starts the collector and the push of one node. */
export async function startAdminStats(wiring: AdminStatsWiring): Promise<RunningAdminStats> {
  const snapshot = () =>
    collectNodeStats({
      nodeId: wiring.nodeId,
      connections: () => wiring.hubs.connectionStats(),
      health: () => wiring.hubs.health(),
      counters: wiring.counters,
      lag: wiring.lag,
      webhooks: wiring.webhooks,
    });
  const collector = new AdminStatsCollector(wiring.manager, wiring.nodeId, snapshot, wiring.logger);
  await collector.start();
  const service = new AdminStatsService({
    collector,
    storage: wiring.storage,
    hub: wiring.hub,
    presenceNodeId: wiring.hubs.presence.nodeId,
    nodeId: wiring.nodeId,
    logger: wiring.logger,
    ...(wiring.intervalMs !== undefined ? { intervalMs: wiring.intervalMs } : {}),
  });
  service.start();
  return {
    service,
    async stop() {
      service.stop();
      await collector.stop();
    },
  };
}
