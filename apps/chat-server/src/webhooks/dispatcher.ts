/**
 * Sends the outbox's events to the endpoints, at least once. Every node runs a dispatcher; each
 * delivery is leased to one node at a time through the database ({@link WebhookStore.claim}), so
 * a node that dies mid-send only delays it until the lease runs out. Failures are retried on
 * {@link RETRY_SCHEDULE_MS} for 24 hours after the event, with the same `webhook-id`; each
 * delivery stands alone, so one failing event never holds back the others. An endpoint failing
 * for 24 hours is disabled (a log line and a metric).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@switchboard/server';
import { Webhook } from 'standardwebhooks';
import type { ClaimedDelivery, DeliveryOutcome, WebhookStore } from './store.js';

/**
 * The waits after the 1st, 2nd … failed attempt (the last one repeats): the first retry comes 5 s
 * after the first failure, well within a minute.
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000,
];

/** How long after its event a delivery is retried, and how long an endpoint may fail before it is disabled. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;

/** The request timeout of one attempt. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * When the attempt after `attempts` failed attempts of an event created at `createdMs` is due, or
 * undefined when the retry window is over (the delivery has failed). The last retry is at the end
 * of the window.
 */
export function nextAttemptAt(createdMs: number, attempts: number, nowMs: number): number | undefined {
  const end = createdMs + RETRY_WINDOW_MS;
  if (nowMs >= end) return undefined;
  const wait = RETRY_SCHEDULE_MS[Math.min(attempts, RETRY_SCHEDULE_MS.length) - 1] ?? RETRY_SCHEDULE_MS[0]!;
  return Math.min(nowMs + wait, end);
}

/** Counters of one node's dispatcher, read by the metrics. */
export interface WebhookCounters {
  /** Attempts answered with a 2xx. */
  delivered: number;
  /** Attempts that failed (an error, a timeout or a non-2xx answer). */
  failedAttempts: number;
  /** Deliveries given up after 24 hours. */
  givenUp: number;
  /** Endpoints this node disabled after 24 hours of failures. */
  endpointsDisabled: number;
  /** `notification.offline` deliveries dropped because the user came back. */
  skipped: number;
}

/** Options of {@link WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  readonly store: WebhookStore;
  /** This node's id (part of each lease). */
  readonly nodeId: string;
  readonly logger: Logger;
  /** The clock of the schedule, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** Whether a user has a connection anywhere (for `notification.offline`); default: never. */
  readonly isOnline?: (userId: string) => Promise<boolean>;
  /** How long after a message a `notification.offline` goes out (`PRESENCE_GRACE_MS`). */
  readonly graceMs?: number;
  /** Request timeout, ms. Default {@link DEFAULT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** How often the dispatcher looks for due deliveries, ms. Default 1,000. */
  readonly pollMs?: number;
  /** Sends under way at once at most (each round claims up to the room left). Default 16. */
  readonly batch?: number;
  /** How long a lease lasts beyond the timeout, ms. Default 30,000. */
  readonly leaseMarginMs?: number;
}

/** What one round did. */
export interface RoundResult {
  readonly fanned: number;
  readonly claimed: number;
  readonly delivered: number;
  readonly failed: number;
}

/**
 * Sends due deliveries, looking every `pollMs` once started (sends run beside the rounds, up to
 * `batch` at once); {@link round} runs one round by hand and waits for its sends.
 */
export class WebhookDispatcher {
  /** This node's counters. */
  readonly counters: WebhookCounters = {
    delivered: 0,
    failedAttempts: 0,
    givenUp: 0,
    endpointsDisabled: 0,
    skipped: 0,
  };
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly leaseMarginMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** The sends under way (started by the rounds of {@link start}). */
  private readonly inflight = new Set<Promise<unknown>>();
  private stopped = true;
  private lastPurgeMs = 0;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.pollMs = options.pollMs ?? 1_000;
    this.batch = options.batch ?? 16;
    this.leaseMarginMs = options.leaseMarginMs ?? 30_000;
  }

  /** Starts the rounds. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the rounds and waits for the sends under way (they finish or time out). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await Promise.all([...this.inflight]);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pump().then(
        (more) => this.schedule(more ? 0 : this.pollMs),
        (error: unknown) => {
          this.options.logger.warn('chat.webhooks.round_failed', { error });
          this.schedule(this.pollMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Claims as many due deliveries as there is room for beside those in flight (waiting for one
   * to end when there is none) and starts them without waiting for them: a slow receiver holds
   * back nothing else. True when there may be more to do at once.
   */
  private async pump(): Promise<boolean> {
    // All the room taken: wait for one send to end.
    if (this.inflight.size >= this.batch) await Promise.race(this.inflight);
    const room = this.batch - this.inflight.size;
    const { fanned, sends } = await this.claimAndSend(room);
    for (const send of sends) {
      const tracked: Promise<unknown> = send
        .catch((error: unknown) => this.options.logger.warn('chat.webhooks.send_failed', { error }))
        .finally(() => this.inflight.delete(tracked));
      this.inflight.add(tracked);
    }
    return fanned > 0 || sends.length === room;
  }

  /** One round: fans new events out, claims the due deliveries and sends them, waiting for every send. */
  async round(): Promise<RoundResult> {
    const { fanned, sends } = await this.claimAndSend(this.batch);
    const outcomes = await Promise.all(sends);
    return {
      fanned,
      claimed: sends.length,
      delivered: outcomes.filter((o) => o === 'delivered').length,
      failed: outcomes.filter((o) => o === 'retry' || o === 'failed').length,
    };
  }

  private async claimAndSend(
    limit: number,
  ): Promise<{ fanned: number; sends: Promise<DeliveryOutcome['kind']>[] }> {
    const { store } = this.options;
    const fanned = await store.fanOut(500, this.options.graceMs ?? 0);
    const nowMs = this.now();
    if (nowMs - this.lastPurgeMs > 3_600_000) {
      this.lastPurgeMs = nowMs;
      await store.purge(nowMs - 7 * 24 * 3_600_000);
    }
    const lease = `${this.options.nodeId}:${randomBytes(8).toString('hex')}`;
    const claimed = await store.claim(lease, nowMs, nowMs + this.timeoutMs + this.leaseMarginMs, limit);
    return { fanned, sends: claimed.map((d) => this.attempt(d)) };
  }

  /** Sends one delivery and records the outcome. */
  private async attempt(d: ClaimedDelivery): Promise<DeliveryOutcome['kind']> {
    const { store, logger } = this.options;
    const startedMs = this.now();
    if (d.type === 'notification.offline' && d.attempts === 0 && d.userId !== null) {
      const due = d.createdMs + (this.options.graceMs ?? 0);
      if (startedMs < due) return this.record(d, { kind: 'defer', nextAttemptMs: due });
      if (this.options.isOnline && (await this.options.isOnline(d.userId))) {
        this.counters.skipped++;
        return this.record(d, { kind: 'skipped', at: startedMs, reason: 'The user is online.' });
      }
    }
    const body = JSON.stringify({
      type: d.type,
      timestamp: new Date(d.createdMs).toISOString(),
      data: JSON.parse(d.data) as unknown,
    });
    let httpStatus: number | null = null;
    let error = '';
    try {
      const signature = new Webhook(d.secret).sign(d.eventId, new Date(startedMs), body);
      const response = await fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Switchboard-Webhooks/1',
          'webhook-id': d.eventId,
          'webhook-timestamp': String(Math.floor(startedMs / 1000)),
          'webhook-signature': signature,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      httpStatus = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) {
        this.counters.delivered++;
        await store.endpointSucceeded(d.endpointId);
        return this.record(d, { kind: 'delivered', at: this.now(), httpStatus });
      }
      error = `HTTP ${response.status}`;
    } catch (caught) {
      error =
        caught instanceof Error && caught.name === 'TimeoutError'
          ? `timed out after ${this.timeoutMs} ms`
          : String((caught as Error)?.message ?? caught);
    }
    this.counters.failedAttempts++;
    const at = this.now();
    if (await store.endpointFailed(d.endpointId, at, RETRY_WINDOW_MS)) {
      this.counters.endpointsDisabled++;
      logger.warn('chat.webhooks.endpoint_disabled', {
        endpointId: d.endpointId,
        url: d.url,
        reason: 'failing for 24 hours',
      });
    }
    const next = nextAttemptAt(d.createdMs, d.attempts + 1, at);
    if (next === undefined) {
      this.counters.givenUp++;
      logger.warn('chat.webhooks.delivery_failed', { eventId: d.eventId, endpointId: d.endpointId, error });
      return this.record(d, { kind: 'failed', at, nextAttemptMs: at, httpStatus, error });
    }
    logger.debug('chat.webhooks.attempt_failed', { eventId: d.eventId, endpointId: d.endpointId, error });
    return this.record(d, { kind: 'retry', at, nextAttemptMs: next, httpStatus, error });
  }

  private async record(d: ClaimedDelivery, outcome: DeliveryOutcome): Promise<DeliveryOutcome['kind']> {
    await this.options.store.complete(d, outcome);
    return outcome.kind;
  }
}
