/**
 * @switchboard/chat-server: the Switchboard chat (accounts, rooms, direct messages, support desk,
 * history, read state) on the Switchboard hub server.
 *
 * @example
 * ```ts
 * import { createChatApp, loadConfig } from '@switchboard/chat-server';
 * const app = await createChatApp(loadConfig());
 * await app.listen();
 * ```
 * @module
 */

export { NO_WEBHOOKS, type WebhookStatsProvider as AdminWebhookSource } from './admin/node-stats.js';
export { CHAT_HUB_PATH, type ChatApp, type ChatAppOptions, createChatApp } from './app.js';
export { type ApiKeyInfo, ApiKeyService, authenticateApiKey } from './auth/api-keys.js';
export type { HostAuthConfig } from './auth/host-config.js';
export { type BackplaneKind, type ChatConfig, loadConfig } from './config.js';
export { cleanHostName, hostUserId } from './domain/host-users.js';
export type { ChatClient, RoomChange } from './domain/ports.js';
export { ChatError, type ChatErrorCode, chatErrors } from './errors.js';
export { openApiDocument } from './http/api-v1/openapi.js';
export { PostgresStorage, type PostgresStorageOptions } from './storage/postgres-storage.js';
export { SqliteStorage } from './storage/sqlite-storage.js';
export type { ChatStorage } from './storage/storage.js';
export type * from './types.js';
export { ENV_ENDPOINT_ID, newWebhookSecret, webhookSecretProblem } from './webhooks/config.js';
export {
  nextAttemptAt,
  RETRY_SCHEDULE_MS,
  RETRY_WINDOW_MS,
  type WebhookCounters,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from './webhooks/dispatcher.js';
export type { DeliveryRecord, WebhookEndpoint, WebhookStats } from './webhooks/store.js';
export { WebhookStore } from './webhooks/store.js';
export type { ChatWebhooks, WebhookStatsProvider } from './webhooks/webhooks.js';
