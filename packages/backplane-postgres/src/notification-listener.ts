/**
 * A dedicated LISTEN connection (of a bus, of presence): one `pg.Client` that listens on a
 * channel, reconnects with backoff when the connection drops (a database restart,
 * `pg_terminate_backend`, a network cut) and listens again, then tells its owner so that it reads
 * what it may have missed.
 * @module
 */
import pg from 'pg';
import { quoteIdent } from './migrations.js';

/** What a {@link NotificationListener} needs. */
export interface NotificationListenerOptions {
  /** How to connect (the store's connection settings, with its own `application_name`). */
  readonly config: pg.ClientConfig;
  /** The channel to LISTEN on. */
  readonly channel: string;
  /** Receives each notification's payload. */
  readonly onNotification: (payload: string) => void;
  /**
   * Runs after each LISTEN, before the connection counts as up (the bus reads the log's head on
   * it); a rejection drops the connection and retries.
   */
  readonly onListen?: (client: pg.Client) => Promise<void>;
  /**
   * Called after each successful LISTEN; `reconnect` is false only for the first attempt's (a lost
   * or failed connection came before).
   */
  readonly onUp: (reconnect: boolean) => void;
  /** Receives every connection or LISTEN failure (the listener retries by itself). */
  readonly onError: (error: unknown) => void;
  /** First delay before reconnecting, doubled on each failure. Default 50 ms. */
  readonly minBackoffMs?: number;
  /** Longest delay before reconnecting. Default 2 000 ms. */
  readonly maxBackoffMs?: number;
}

/**
 * Keeps one LISTEN connection up until {@link close}. Never throws and never lets a `pg` error
 * event go unhandled.
 */
export class NotificationListener {
  /** How many times the connection was re-established after being lost. */
  reconnects = 0;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private attempts = 0;
  private closed = false;

  constructor(private readonly options: NotificationListenerOptions) {
    this.minBackoffMs = options.minBackoffMs ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.backoffMs = this.minBackoffMs;
  }

  /** Connects and listens; resolves after the first attempt, whether it worked or not. */
  start(): Promise<void> {
    return this.connect();
  }

  /** The connection while it is up and listening (a bus reads on it). */
  get connection(): pg.Client | undefined {
    return this.client;
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const attempt = ++this.attempts;
    const client = new pg.Client(this.options.config);
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', (error: unknown) => {
      if (!this.closed) this.options.onError(error);
      onLost();
    });
    client.on('end', onLost);
    client.on('notification', (message: pg.Notification) => {
      if (!this.closed && message.channel === this.options.channel && message.payload !== undefined) {
        this.options.onNotification(message.payload);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.options.channel)}`);
      await this.options.onListen?.(client);
    } catch (error) {
      if (!this.closed && !lost) this.options.onError(error);
      onLost();
      return;
    }
    if (this.closed || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = this.minBackoffMs;
    if (attempt > 1) this.reconnects++;
    this.options.onUp(attempt > 1);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
    this.timer.unref();
  }
}
