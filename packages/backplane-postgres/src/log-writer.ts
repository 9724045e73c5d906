/**
 * The single writer of a {@link PostgresBus}: rows (sends, route changes) in queue order, in
 * batches of one `bus_publish` call; while PostgreSQL is unreachable the batch waits and is retried
 * as a whole, in a bounded queue (past `maxQueuedPublishes` the oldest is dropped and reported).
 * @module
 */
import type { BackplaneErrorCodeOnly } from '@switchboard/server/scaleout';
import type pg from 'pg';
import { quoteIdent } from './migrations.js';
import type { PostgresBusCounters, PostgresBusSettings } from './postgres-bus.js';

/** What a {@link LogWriter} writes with. */
export interface LogWriterOptions {
  readonly pool: pg.Pool;
  readonly settings: PostgresBusSettings;
  readonly hub: string;
  readonly nodeId: string;
  /** The bus's counters (published, queued, queueOverflows). */
  readonly counters: PostgresBusCounters;
  readonly report: (code: BackplaneErrorCodeOnly, what: string, cause?: unknown) => void;
}

interface QueuedPublish {
  readonly target: string;
  readonly payload: Uint8Array;
  readonly resolve: (written: number | undefined) => void;
}

const BATCH = 256;
const MAX_BACKOFF_MS = 2_000;

/** Writes a bus's rows in order; see the module. */
export class LogWriter {
  /** Whether the last write failed for want of a connection (rows wait meanwhile). */
  down = false;
  private readonly queue: QueuedPublish[] = [];
  private readonly publishSql: string;
  private writing = false;
  private backoff = 50;
  private running = false;
  private closed = false;

  constructor(private readonly o: LogWriterOptions) {
    this.publishSql = `SELECT ${quoteIdent(o.settings.schema)}.bus_publish($1, $2, $3, $4::text[], $5::text[], $6::bytea[]) AS w`;
  }

  /** Whether writes currently go through (a route may wait for its row). */
  get writable(): boolean {
    return this.running && !this.down;
  }

  /** Rows waiting to be written. */
  get length(): number {
    return this.queue.length;
  }

  /** Starts writing (the schema is migrated by then). */
  start(): void {
    this.running = true;
    void this.write();
  }

  /** Resolves once every queued write so far has been written (or dropped). */
  async flush(): Promise<void> {
    while ((this.queue.length > 0 || this.writing) && !this.closed) await sleep(5);
  }

  /** Stops writing; queued rows resolve undefined. */
  close(): void {
    this.closed = true;
    for (const item of this.queue.splice(0)) item.resolve(undefined);
  }

  /**
   * Queues a row (or a route change, `+c:`/`-c:`). Resolves with 1 once written, 2 once written to
   * the inbox of a `c:` target's node whose lease ran out, 0 when a `c:` target has no holder,
   * undefined when dropped or refused (reported). Never rejects.
   */
  enqueue(target: string, payload: Uint8Array): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(undefined);
      this.queue.push({ target, payload, resolve });
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
      let size = BATCH;
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.splice(0, size);
        try {
          const result = await this.o.pool.query<{ w: number[] }>({
            // Prepared once per pooled connection: a write spends no time parsing.
            name: `sb_publish_${this.o.settings.schema}`,
            text: this.publishSql,
            values: [
              this.o.settings.notifyChannel,
              this.o.hub,
              this.o.nodeId,
              batch.map((item) => item.target),
              // Exclusions travel in the envelope (the core applies them).
              batch.map(() => ''),
              batch.map((item) => item.payload),
            ],
          });
          const written = result.rows[0]!.w;
          this.down = false;
          this.backoff = 50;
          size = BATCH;
          batch.forEach((item, i) => {
            if (written[i]! >= 1 && !item.target.startsWith('+') && !item.target.startsWith('-'))
              this.o.counters.published++;
            item.resolve(written[i]);
          });
        } catch (error) {
          if (this.closed) {
            for (const item of batch) item.resolve(undefined);
            return;
          }
          if (!isConnectionError(error)) {
            if (batch.length > 1) {
              // Find the row PostgreSQL refuses: write this batch one by one.
              this.queue.unshift(...batch);
              size = 1;
              continue;
            }
            this.o.report(
              'SB_ERR_BACKPLANE_UNAVAILABLE',
              `writing a send to ${batch[0]!.target} (dropped)`,
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
          this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private dropOverflow(): void {
    while (this.queue.length > this.o.settings.maxQueuedPublishes) {
      const dropped = this.queue.shift()!;
      this.o.counters.queueOverflows++;
      this.o.report(
        'SB_ERR_BACKPLANE_QUEUE_OVERFLOW',
        `publish queue full (${this.o.settings.maxQueuedPublishes}); a send to ${dropped.target} dropped`,
      );
      dropped.resolve(undefined);
    }
  }
}

/**
 * Whether an error means "PostgreSQL is not reachable now" (retry the same write later) rather
 * than "PostgreSQL refuses this row" (drop it): no SQLSTATE (a socket error), or connection
 * exceptions (08), operator intervention (57: terminated, shutting down), resources (53), and
 * transaction rollbacks (40).
 */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return ['08', '57', '53', '40'].includes(code.slice(0, 2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
