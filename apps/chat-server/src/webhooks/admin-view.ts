/**
 * The webhooks as the admin view shows them per node: what this node's dispatcher delivered and
 * gave up on, and the cluster's pending deliveries and configured endpoints from the outbox (read
 * every few seconds, since the admin view's snapshot is taken synchronously).
 * @module
 */
import type { AdminWebhookStats } from '@switchboard/chat-contract';
import type { WebhookStatsProvider as AdminWebhookSource } from '../admin/node-stats.js';
import type { ChatWebhooks } from './webhooks.js';

/** An admin-view source over a node's webhooks, refreshed every `refreshMs`; `stop()` ends it. */
export interface WebhookAdminView extends AdminWebhookSource {
  /** Stops the refresh. */
  stop(): void;
}

/** Reads the outbox's totals now and every `refreshMs` (default 5 s) for {@link WebhookAdminView}. */
export function webhookAdminView(webhooks: ChatWebhooks, refreshMs = 5_000): WebhookAdminView {
  let endpoints = 0;
  let pending = 0;
  const refresh = () =>
    webhooks.webhookStats().then(
      (stats) => {
        endpoints = stats.endpoints - stats.disabledEndpoints;
        pending = stats.pending;
      },
      () => {
        // The storage did not answer: keep the last numbers; the next refresh tries again.
      },
    );
  void refresh();
  const timer = setInterval(refresh, refreshMs);
  timer.unref();
  return {
    webhookStats(): AdminWebhookStats {
      const counters = webhooks.dispatcher.counters;
      return { configured: endpoints > 0, delivered: counters.delivered, failed: counters.givenUp, pending };
    },
    stop: () => clearInterval(timer),
  };
}
