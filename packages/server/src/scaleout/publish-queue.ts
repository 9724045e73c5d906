/**
 * {@link PublishQueue}: the bounded queue every bus keeps while its backend is unreachable, and the
 * bookkeeping of writes in flight, written once for every backend.
 * @module
 */
import type { BusCounters } from './bus.js';

/** Options of a {@link PublishQueue}. */
export interface PublishQueueOptions<T> {
  /** Publishes queued at most; past it the oldest is dropped. */
  readonly maxQueued: number;
  /** Whether a write can go out now (the backend's connection is up). */
  readonly writable: () => boolean;
  /**
   * Writes one item: resolves with how many nodes received it live, or `undefined` when it failed
   * (the bus reports that itself). Must not reject.
   */
  readonly write: (item: T) => Promise<number | undefined>;
  /** Told of each item dropped because the queue was full (counted already; report it). */
  readonly overflow: (dropped: T) => void;
  /** The bus's counters: `queued`, `queueOverflows` and `published` are kept here. */
  readonly counters: BusCounters;
}

interface Entry<T> {
  readonly item: T;
  readonly resolve: (receivers: number | undefined) => void;
}

/**
 * Writes at once while the backend is writable and nothing waits; otherwise queues, in order,
 * bounded (the oldest dropped, counted in `queueOverflows`), until {@link drain}.
 */
export class PublishQueue<T> {
  private readonly queue: Entry<T>[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: PublishQueueOptions<T>) {}

  /** Publishes waiting for the backend. */
  get length(): number {
    return this.queue.length;
  }

  /** Writes or queues `item`; resolves as {@link PublishQueueOptions.write} does, `undefined` when dropped. */
  publish(item: T): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(undefined);
      const entry = { item, resolve };
      if (this.queue.length === 0 && this.options.writable()) {
        this.write(entry);
        return;
      }
      if (this.queue.length >= this.options.maxQueued) {
        const dropped = this.queue.shift()!;
        this.options.counters.queueOverflows++;
        this.options.overflow(dropped.item);
        dropped.resolve(undefined);
      }
      this.queue.push(entry);
      this.options.counters.queued++;
    });
  }

  /** The backend is writable again: writes what waited, in order. */
  drain(): void {
    if (this.closed) return;
    for (const entry of this.queue.splice(0)) this.write(entry);
  }

  /** Resolves once every publish so far has been written (or dropped). */
  async flush(): Promise<void> {
    while ((this.queue.length > 0 && !this.closed) || this.inFlight.size > 0) {
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Stops: waits up to `graceMs` for what is in flight (never hanging on a backend that went
   * away), then resolves everything still queued with `undefined`.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    if (this.options.writable()) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([this.flush(), limit]).finally(() => clearTimeout(timer));
    }
    this.closed = true;
    for (const entry of this.queue.splice(0)) entry.resolve(undefined);
  }

  private write(entry: Entry<T>): void {
    const promise = this.options.write(entry.item).then((receivers) => {
      if (receivers !== undefined) this.options.counters.published++;
      entry.resolve(receivers);
    });
    const tracked = promise.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}

/**
 * Resolves with what `promise` resolves with, or `undefined` once `ms` passed first (a wait that
 * must not hang on a backend that went away); rejects as `promise` does.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Resolves once `condition` holds, or after `timeoutMs`, polling every few milliseconds. */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}
