/**
 * {@link BatchWriter}: the ordered write queue of a bus whose backend takes writes in batches (one
 * SQL call for many rows): a single writer, in queue order; while the backend is unreachable the
 * batch waits and is retried as a whole with backoff, in a bounded queue (past `maxQueued` the
 * oldest is dropped and reported); an item the backend refuses is found by writing the batch one
 * by one, and dropped alone. Written once for every backend ({@link PublishQueue} is the one for
 * backends that take one write at a time).
 * @module
 */
import type { BusCounters } from './bus.js';
import type { BackplaneErrorCodeOnly } from './errors.js';

/** Options of a {@link BatchWriter}. */
export interface BatchWriterOptions<T> {
  /** Items queued at most while the backend is unreachable; past it the oldest is dropped. */
  readonly maxQueued: number;
  /** Items per batch. Default 256. */
  readonly batchSize?: number;
  /** The longest wait between two tries while the backend is unreachable. Default 2 000 ms. */
  readonly maxBackoffMs?: number;
  /**
   * Writes a batch in one call: resolves with one result per item (what its `enqueue` resolves
   * with), rejects when the batch was not written.
   */
  readonly write: (batch: readonly T[]) => Promise<readonly (number | undefined)[]>;
  /**
   * Whether a rejection means "the backend is unreachable now" (the batch waits and is tried
   * again) rather than "the backend refuses an item" (it is found and dropped).
   */
  readonly unreachable: (error: unknown) => boolean;
  /** Whether a written item counts in `counters.published` (a send, not bookkeeping). */
  readonly isPublish: (item: T, result: number | undefined) => boolean;
  /** Names an item in reports (`a send to g:room`). */
  readonly describe: (item: T) => string;
  /** Reports a fault (the bus counts and hands it to the core). */
  readonly report: (code: BackplaneErrorCodeOnly, what: string, cause?: unknown) => void;
  /** The bus's counters: `published`, `queued` and `queueOverflows` are kept here. */
  readonly counters: BusCounters;
}

interface Queued<T> {
  readonly item: T;
  readonly resolve: (result: number | undefined) => void;
}

/** Writes a bus's items in order, in batches; see the module. */
export class BatchWriter<T> {
  /** Whether the last write failed for want of a connection (items wait meanwhile). */
  down = false;
  private readonly queue: Queued<T>[] = [];
  private readonly batchSize: number;
  private readonly maxBackoffMs: number;
  private writing = false;
  private backoff = 50;
  private running = false;
  private closed = false;

  constructor(private readonly o: BatchWriterOptions<T>) {
    this.batchSize = o.batchSize ?? 256;
    this.maxBackoffMs = o.maxBackoffMs ?? 2_000;
  }

  /** Whether writes currently go through. */
  get writable(): boolean {
    return this.running && !this.down;
  }

  /** Items waiting to be written. */
  get length(): number {
    return this.queue.length;
  }

  /** Starts writing (what was queued before goes first). */
  start(): void {
    this.running = true;
    void this.write();
  }

  /** Resolves once every item queued so far has been written (or dropped). */
  async flush(): Promise<void> {
    while ((this.queue.length > 0 || this.writing) && !this.closed) await sleep(5);
  }

  /** Stops writing; queued items resolve `undefined`. */
  close(): void {
    this.closed = true;
    for (const queued of this.queue.splice(0)) queued.resolve(undefined);
  }

  /**
   * Queues an item. Resolves with its result once written, `undefined` when dropped or refused
   * (reported). Never rejects.
   */
  enqueue(item: T): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(undefined);
      this.queue.push({ item, resolve });
      if (!this.writable) this.o.counters.queued++;
      this.dropOverflow();
      void this.write();
    });
  }

  /** The single writer: batches in queue order; on a lost connection the batch waits and retries. */
  private async write(): Promise<void> {
    if (this.writing || !this.running || this.closed) return;
    this.writing = true;
    try {
      let size = this.batchSize;
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.splice(0, size);
        try {
          const results = await this.o.write(batch.map((queued) => queued.item));
          this.down = false;
          this.backoff = 50;
          size = this.batchSize;
          batch.forEach((queued, i) => {
            if (this.o.isPublish(queued.item, results[i])) this.o.counters.published++;
            queued.resolve(results[i]);
          });
        } catch (error) {
          if (this.closed) {
            for (const queued of batch) queued.resolve(undefined);
            return;
          }
          if (!this.o.unreachable(error)) {
            if (batch.length > 1) {
              // Find the item the backend refuses: write this batch one by one.
              this.queue.unshift(...batch);
              size = 1;
              continue;
            }
            this.o.report(
              'SB_ERR_BACKPLANE_UNAVAILABLE',
              `writing ${this.o.describe(batch[0]!.item)} (dropped)`,
              error,
            );
            batch[0]!.resolve(undefined);
            continue;
          }
          this.queue.unshift(...batch);
          if (!this.down) {
            this.down = true;
            this.o.counters.queued += this.queue.length;
          }
          this.dropOverflow();
          this.o.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'writing to the log', error);
          await sleep(this.backoff * (0.5 + Math.random() / 2));
          this.backoff = Math.min(this.backoff * 2, this.maxBackoffMs);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private dropOverflow(): void {
    while (this.queue.length > this.o.maxQueued) {
      const dropped = this.queue.shift()!;
      this.o.counters.queueOverflows++;
      this.o.report(
        'SB_ERR_BACKPLANE_QUEUE_OVERFLOW',
        `publish queue full (${this.o.maxQueued}); ${this.o.describe(dropped.item)} dropped`,
      );
      dropped.resolve(undefined);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
