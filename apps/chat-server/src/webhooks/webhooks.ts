/**
 * The webhooks of one chat node: the endpoint of `WEBHOOK_URL` kept in step with the
 * configuration, the dispatcher that sends the outbox, and the numbers for the admin view.
 * @module
 */
import type { Logger } from '@switchboard/server';
import type { ChatStorage } from '../storage/storage.js';
import { ENV_ENDPOINT_ID } from './config.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './dispatcher.js';
import { type WebhookStats, WebhookStore } from './store.js';

/** What the admin view reads: delivery counts and disabled endpoints, cluster-wide. */
export interface WebhookStatsProvider {
  /** Delivered, failed, pending and skipped deliveries; endpoints and disabled endpoints. */
  webhookStats(): Promise<WebhookStats>;
}

/** One node's webhooks. */
export interface ChatWebhooks extends WebhookStatsProvider {
  readonly store: WebhookStore;
  readonly dispatcher: WebhookDispatcher;
  /** Stops the dispatcher (the deliveries it had not finished are sent again by a node later). */
  close(): Promise<void>;
}

/** Options of {@link startWebhooks}. */
export interface WebhooksOptions extends Omit<WebhookDispatcherOptions, 'store' | 'logger' | 'nodeId'> {
  readonly storage: ChatStorage;
  readonly nodeId: string;
  readonly logger: Logger;
  /** `WEBHOOK_URL` and `WEBHOOK_SECRET`: the endpoint `env` (removed when not configured). */
  readonly webhookUrl?: string | undefined;
  readonly webhookSecret?: string | undefined;
  /** Whether to start sending at once. Default true. */
  readonly autoStart?: boolean;
}

/**
 * Registers the configured endpoint and starts the dispatcher. The storage must be migrated (the
 * outbox's tables and triggers are migration 012).
 */
export async function startWebhooks(options: WebhooksOptions): Promise<ChatWebhooks> {
  const store = WebhookStore.of(options.storage);
  if (options.webhookUrl && options.webhookSecret) {
    await store.upsertEndpoint(
      ENV_ENDPOINT_ID,
      options.webhookUrl,
      options.webhookSecret,
      new Date().toISOString(),
    );
  } else {
    await store.removeEndpoint(ENV_ENDPOINT_ID);
  }
  const dispatcher = new WebhookDispatcher({ ...options, store });
  if (options.autoStart !== false) dispatcher.start();
  return {
    store,
    dispatcher,
    webhookStats: () => store.stats(),
    close: () => dispatcher.stop(),
  };
}
