/**
 * {@link KeepConnected}: one connection kept up until closed, for a backend whose client does not
 * reconnect by itself (a PostgreSQL LISTEN connection): opened again with backoff whenever it drops
 * (a database restart, a terminated backend, a network cut), each time telling its owner, who reads
 * what it may have missed. Written once for every such backend.
 * @module
 */

/** Options of a {@link KeepConnected}. */
export interface KeepConnectedOptions<T> {
  /**
   * Opens a connection and makes it ready (a LISTEN, a first read); calls `lost` whenever it drops
   * later (any number of times). Rejects when it could not, having closed what it opened.
   */
  readonly open: (lost: (error?: unknown) => void) => Promise<T>;
  /** Closes a connection (never rejects the caller: failures are ignored). */
  readonly close: (connection: T) => Promise<void>;
  /** The connection is up; `reconnect` is false only for the first attempt's. */
  readonly onUp: (connection: T, reconnect: boolean) => void;
  /** Receives every failure to open, and the error a connection dropped with. */
  readonly onError: (error: unknown) => void;
  /** First delay before opening again, doubled on each failure. Default 50 ms. */
  readonly minBackoffMs?: number;
  /** Longest delay before opening again. Default 2 000 ms. */
  readonly maxBackoffMs?: number;
}

/** Keeps one connection up until {@link close}; never throws. */
export class KeepConnected<T> {
  /** How many times the connection was opened again after being lost. */
  reconnects = 0;
  private current: T | undefined;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private attempts = 0;
  private closed = false;

  constructor(private readonly o: KeepConnectedOptions<T>) {
    this.backoffMs = o.minBackoffMs ?? 50;
  }

  /** The connection while it is up. */
  get connection(): T | undefined {
    return this.current;
  }

  /** Opens; resolves after the first attempt, whether it worked or not. */
  start(): Promise<void> {
    return this.connect();
  }

  /** Stops opening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const connection = this.current;
    this.current = undefined;
    if (connection !== undefined) await this.o.close(connection).catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const attempt = ++this.attempts;
    let lost = false;
    let connection: T | undefined;
    const onLost = (error?: unknown) => {
      if (error !== undefined && !this.closed) this.o.onError(error);
      if (lost) return;
      lost = true;
      if (connection !== undefined) {
        if (this.current === connection) this.current = undefined;
        void this.o.close(connection).catch(() => undefined);
      }
      this.schedule();
    };
    try {
      connection = await this.o.open(onLost);
    } catch (error) {
      onLost(lost ? undefined : error);
      return;
    }
    if (this.closed || lost) {
      await this.o.close(connection).catch(() => undefined);
      return;
    }
    this.current = connection;
    this.backoffMs = this.o.minBackoffMs ?? 50;
    if (attempt > 1) this.reconnects++;
    this.o.onUp(connection, attempt > 1);
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.o.maxBackoffMs ?? 2_000, this.backoffMs * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
    this.timer.unref();
  }
}

/** Options of {@link retryUntil}. */
export interface RetryUntilOptions {
  /** Stops trying (the owner closed). */
  readonly stopped: () => boolean;
  /** Receives each failure. */
  readonly onError: (error: unknown) => void;
  /** The first wait between two tries, doubled after each failure. Default 50 ms. */
  readonly minDelayMs?: number;
  /** The longest wait between two tries. Default 2 000 ms. */
  readonly maxDelayMs?: number;
}

/**
 * Runs `attempt` until it resolves (a backend's start: a schema, a stream) or `stopped()` holds,
 * waiting between tries with backoff; resolves with whether it succeeded. Never rejects.
 */
export async function retryUntil(attempt: () => Promise<void>, o: RetryUntilOptions): Promise<boolean> {
  for (let delay = o.minDelayMs ?? 50; !o.stopped(); delay = Math.min(delay * 2, o.maxDelayMs ?? 2_000)) {
    try {
      await attempt();
      return true;
    } catch (error) {
      o.onError(error);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return false;
}

/** Options of {@link retryCall}. */
export interface RetryCallOptions {
  /** Tries at most, the first included. */
  readonly attempts: number;
  /** Whether a failure may be tried again (a dropped connection, a deadlock) rather than refused. */
  readonly retryable: (error: unknown) => boolean;
  /** Told of each failure that is tried again. */
  readonly onRetry: (error: unknown) => void;
  /** The wait before try n + 1 is n times this. Default 10 ms. */
  readonly delayMs?: number;
}

/**
 * Runs one backend call (a query), again after a failure {@link RetryCallOptions.retryable} lets
 * through, up to `attempts` tries; rejects with the last failure.
 */
export async function retryCall<T>(call: () => Promise<T>, o: RetryCallOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= o.attempts || !o.retryable(error)) throw error;
      o.onRetry(error);
      await new Promise((resolve) => setTimeout(resolve, (o.delayMs ?? 10) * attempt));
    }
  }
}

/** Timers that repeat until {@link Intervals.clear} (a lease renewal, a poll, a clean-up); they never keep the process alive. */
export class Intervals {
  private readonly timers: NodeJS.Timeout[] = [];

  /** Runs `run` every `ms` milliseconds. */
  every(ms: number, run: () => unknown): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops every timer. */
  clear(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}
