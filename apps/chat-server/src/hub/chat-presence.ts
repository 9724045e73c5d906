/**
 * The chat's presence over the server's: `hubContext('/hubs/chat').presence` fires
 * `onUserOnline`/`onUserOffline` once per transition cluster-wide (on the node that decided it,
 * the offline one after the grace period). Each transition becomes one `presenceChanged` to the
 * users who share a room with that user; going offline keeps `lastSeenAt` (the event's `at`, the
 * moment the last connection left) in storage, and an agent going offline hands their claimed
 * support requests back to the queue.
 * @module
 */
import type { HubPresence, Logger, PresenceEvent } from '@switchboard/server';
import { isAgent, type ServiceDeps } from '../domain/ports.js';
import { announcePresence } from '../domain/rooms.js';
import type { SupportService } from '../domain/support.js';

/** Subscribes the chat to the hub's presence; returns the unsubscribe function. */
export function wireChatPresence(
  presence: HubPresence,
  services: ServiceDeps,
  support: SupportService,
  logger: Logger,
): () => void {
  const run = (what: string, event: PresenceEvent, action: () => Promise<void>) => {
    action().catch((error: unknown) =>
      logger.warn('chat.presence.failed', { what, userId: event.userId, error }),
    );
  };
  const offOnline = presence.onUserOnline((event) =>
    run('online', event, async () => {
      const user = await services.storage.userById(event.userId);
      if (!user) return;
      await announcePresence(services, user.id, true, user.lastSeenAt, user.away);
    }),
  );
  const offOffline = presence.onUserOffline((event) =>
    run('offline', event, async () => {
      const user = await services.storage.userById(event.userId);
      if (!user) return;
      const at = new Date(event.at).toISOString();
      await services.storage.setLastSeen(user.id, at);
      await announcePresence(services, user.id, false, at);
      if (isAgent(user)) {
        const requeued = await support.agentOffline(user.id);
        if (requeued.length > 0) {
          logger.info('chat.support.requeued', { agentId: user.id, requests: requeued.length });
        }
      }
    }),
  );
  return () => {
    offOnline();
    offOffline();
  };
}
