/**
 * The chat's webhooks as the host app receives them: each request is checked with the Standard
 * Webhooks verifier of the `standardwebhooks` package (the HMAC-SHA256 signature over
 * "id.timestamp.body" with the shared secret, and a timestamp within five minutes), then kept in a
 * short in-memory log. Delivery is at least once, so an event seen before (same `webhook-id`) is
 * acknowledged and not recorded again.
 * @module
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** One event from the chat, as received. */
export interface ReceivedEvent {
  /** The `webhook-id` header: the same on every retry of one event. */
  readonly webhookId: string;
  /** e.g. `message.created`, `room.member_added`, `support.request_created`. */
  readonly type: string;
  /** When the chat made the event (the body's `timestamp`). */
  readonly timestamp: string;
  /** The event's data; every event has `roomId` and `seq`. */
  readonly data: Record<string, unknown> & { roomId?: string; seq?: number };
  /** When this app received it. */
  readonly receivedAt: string;
}

/** What `receive` made of a request. */
export type ReceiveResult =
  | { readonly ok: true; readonly event: ReceivedEvent; readonly duplicate: boolean }
  | { readonly ok: false; readonly reason: string };

/** Verifies webhook requests and keeps the last events. */
export class WebhookReceiver {
  private readonly verifier: Webhook;
  private readonly events: ReceivedEvent[] = [];
  private readonly seen = new Set<string>();
  private readonly listeners = new Set<(event: ReceivedEvent) => void>();

  constructor(
    secret: string,
    private readonly keep = 200,
  ) {
    this.verifier = new Webhook(secret);
  }

  /** Checks and records one request: its raw body and its headers. */
  receive(body: string, headers: Record<string, string | string[] | undefined>): ReceiveResult {
    const header = (name: string): string => {
      const value = headers[name];
      return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
    };
    const signed = {
      'webhook-id': header('webhook-id'),
      'webhook-timestamp': header('webhook-timestamp'),
      'webhook-signature': header('webhook-signature'),
    };
    let payload: unknown;
    try {
      payload = this.verifier.verify(body, signed);
    } catch (error) {
      if (error instanceof WebhookVerificationError) return { ok: false, reason: error.message };
      throw error;
    }
    const { type, timestamp, data } = (payload ?? {}) as {
      type?: unknown;
      timestamp?: unknown;
      data?: unknown;
    };
    if (typeof type !== 'string' || typeof data !== 'object' || data === null)
      return { ok: false, reason: 'The body is not {type, timestamp, data}.' };
    const event: ReceivedEvent = {
      webhookId: signed['webhook-id'],
      type,
      timestamp: typeof timestamp === 'string' ? timestamp : '',
      data: data as ReceivedEvent['data'],
      receivedAt: new Date().toISOString(),
    };
    if (this.seen.has(event.webhookId)) return { ok: true, event, duplicate: true };
    this.seen.add(event.webhookId);
    this.events.push(event);
    if (this.events.length > this.keep) this.seen.delete(this.events.shift()!.webhookId);
    for (const listener of this.listeners) listener(event);
    return { ok: true, event, duplicate: false };
  }

  /** The recorded events, newest first. */
  latest(limit = 50): ReceivedEvent[] {
    return this.events.slice(-limit).reverse();
  }

  /** Calls `listener` with each new event; returns the function that stops it. */
  onEvent(listener: (event: ReceivedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
