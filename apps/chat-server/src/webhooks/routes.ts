/**
 * `GET /api/v1/webhooks/deliveries`: the delivery log, per endpoint. Who may read it is the
 * caller's `authorize` (it throws a ChatError to refuse).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { ChatError } from '../errors.js';
import { sendJson } from '../http/json.js';
import type { Router } from '../http/router.js';
import type { DeliveryStatus, WebhookStore } from './store.js';

/** What {@link addWebhookRoutes} needs. */
export interface WebhookRouteDeps {
  readonly store: WebhookStore;
  /** Resolves when the request may read the log; throws a ChatError (401, 403) when not. */
  readonly authorize: (req: IncomingMessage) => Promise<void>;
}

const STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed', 'skipped'];

/**
 * Adds `GET /api/v1/webhooks/deliveries?endpoint=&status=&before=&limit=`: the endpoints (without
 * their secrets) and their deliveries, newest event first (`limit` 50 by default, at most 200;
 * `before`, an ISO time: the page of older events).
 */
export function addWebhookRoutes(router: Router, deps: WebhookRouteDeps): void {
  router.on('GET', '/api/v1/webhooks/deliveries', async ({ req, res }) => {
    await deps.authorize(req);
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const endpointId = query.get('endpoint') ?? undefined;
    const status = query.get('status') ?? undefined;
    if (status !== undefined && !STATUSES.includes(status as DeliveryStatus)) {
      throw invalid('status', `must be one of ${STATUSES.join(', ')}`);
    }
    const limitText = query.get('limit');
    const limit = limitText === null ? 50 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      throw invalid('limit', 'must be an integer from 1 to 200');
    }
    const beforeText = query.get('before');
    const beforeMs = beforeText === null ? undefined : Date.parse(beforeText);
    if (beforeMs !== undefined && Number.isNaN(beforeMs)) throw invalid('before', 'must be an ISO 8601 time');
    const endpoints = (await deps.store.endpoints())
      .filter((e) => endpointId === undefined || e.id === endpointId)
      .map(({ secret: _secret, ...e }) => e);
    if (endpointId !== undefined && endpoints.length === 0) {
      throw new ChatError('SB_CHAT_NOT_FOUND', 'No such webhook endpoint.');
    }
    const deliveries = await deps.store.deliveries({
      ...(endpointId === undefined ? {} : { endpointId }),
      ...(status === undefined ? {} : { status: status as DeliveryStatus }),
      ...(beforeMs === undefined ? {} : { beforeMs }),
      limit,
    });
    sendJson(res, 200, {
      endpoints: endpoints.map((e) => ({
        ...e,
        deliveries: deliveries.filter((d) => d.endpointId === e.id),
      })),
    });
  });
}

function invalid(field: string, reason: string): ChatError {
  return new ChatError('SB_CHAT_INVALID_INPUT', `${field} ${reason}.`, { field });
}
