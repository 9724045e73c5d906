/**
 * {@link LogCursor}: the reading side of a bus whose backend keeps one ordered log for all its
 * channels (a table whose ids are the commit order, as PostgreSQL's `bus_messages`), written once.
 * Such a bus has no per-channel {@link ReplayLog}: it reads the channels it needs from one position
 * over the whole log, so it delivers every entry of a channel once and in log order (and a sender's
 * entries in the order sent, across channels) and catches up by itself after a reconnect. The
 * backend gives one query ({@link LogCursorOptions.read}) and says when to read (a wake-up, a poll,
 * the connection back); the cursor does the rest:
 * - one read at a time (a read asked for meanwhile runs after it), in pages;
 * - the position: set at the first connection, moved to the log's head after each read, so that
 *   a node skips the entries of channels it does not read;
 * - losses: entries that left the log before the position reached them are counted and reported
 *   ({@link BusReceiver.lost});
 * - channels joined while a read is under way are read from the position at their join; channels
 *   joined while the position lags the log (wake-ups for other channels were ignored) start at the
 *   head that the next read finds, so that a new member never gets what was sent before it joined;
 * - after a reconnect: {@link BusReceiver.resubscribing}, the catch-up (counted in `replayed`),
 *   then {@link BusReceiver.reconnected}.
 * @module
 */
import { newBusCounters } from './adapter-kit.js';
import type { BusContext, BusCounters } from './bus.js';
import type { Channel } from './channels.js';
import { waitUntil } from './publish-queue.js';

/** What a bus with a {@link LogCursor} counts on top of every bus's counters. */
export interface LogCursorCounters extends BusCounters {
  /** Entries delivered by a catch-up after the connection came back. */
  replayed: number;
  /** Wake-ups received (PostgreSQL: notifications). */
  notifications: number;
  /** Wake-ups for channels this node does not read, or for its own sends: no read follows. */
  notificationsIgnored: number;
  /** Reads of the log (queries). */
  reads: number;
  /** Entries of the whole log after the position, at the last read. */
  lagRows: number;
}

/** A {@link LogCursorCounters} with every counter at 0. */
export function newLogCursorCounters(): LogCursorCounters {
  return {
    ...newBusCounters(),
    replayed: 0,
    notifications: 0,
    notificationsIgnored: 0,
    reads: 0,
    lagRows: 0,
  };
}

/** An entry of the log as {@link LogCursorOptions.read} returns it. */
export interface LogCursorRow {
  /** Its position in the whole log. */
  readonly id: number;
  /** The key of the log it was read by (a channel's name in the backend's form). */
  readonly key: string;
  /** The channel to deliver it on (`undefined`: not one the core knows; counted, not delivered). */
  readonly channel: Channel | undefined;
  /** The bytes published (an envelope). */
  readonly payload: Uint8Array;
}

/** One page of a read. */
export interface LogCursorPage {
  /** The log's last position when the read ran. */
  readonly head: number;
  /** The last position the log's clean-up removed (entries at or before it are gone). */
  readonly trimmedTo: number;
  /** The entries found, in log order. */
  readonly rows: readonly LogCursorRow[];
}

/** Options of a {@link LogCursor}. */
export interface LogCursorOptions {
  /** The bus's context (its receiver gets the entries). */
  readonly context: BusContext;
  /** The bus's counters (the cursor keeps `messagesReceived`, `bytesReceived` and the ones above). */
  readonly counters: LogCursorCounters;
  /**
   * Reads, in log order, at most `limit` entries of the logs `keys` after `after` up to `upTo`
   * (or up to the head, when `upTo` is undefined), leaving out this node's own; with the head and
   * the clean-up's position, read in the same snapshot. Rejects when the backend is unreachable
   * (reported; the next wake-up or reconnect reads again).
   */
  readonly read: (
    keys: readonly string[],
    after: number,
    upTo: number | undefined,
    limit: number,
  ) => Promise<LogCursorPage>;
  /** Whether a read can run now (the backend's reading connection is up). */
  readonly readable: () => boolean;
  /** How long a join waits for its start position before it reports and goes on. */
  readonly joinTimeoutMs: number;
  /** Reports a fault (the bus counts it and hands it to the core). */
  readonly report: (what: string, cause?: unknown) => void;
  /** Entries per page. Default 1 000. */
  readonly pageSize?: number;
}

/** A joined channel's start position before the read that sets it to the head it finds. */
const FROM_HEAD = -1;

/** Reads a bus's channels from one position over its backend's whole log; see the module. */
export class LogCursor {
  /** The last position read (undefined until {@link begin}). */
  position: number | undefined;
  /** The logs (channels) the node reads. */
  private readonly keys = new Set<string>();
  /** Logs joined since the position given, not yet read by a read that knew them; or `FROM_HEAD`. */
  private readonly joined = new Map<string, number>();
  /** Wake-ups were ignored since the last read began: the position may lag the log's head. */
  private behind = false;
  private waiters: Array<() => void> = [];
  private reading: Promise<void> | undefined;
  private again = false;
  private replaying = false;
  private everUp = false;
  private closed = false;
  private readonly pageSize: number;

  constructor(private readonly o: LogCursorOptions) {
    this.pageSize = o.pageSize ?? 1_000;
  }

  /** Sets the first position (the log's head when the node first connects); later calls are ignored. */
  begin(head: number): void {
    this.position ??= head;
  }

  /** Resolves once the first position is set (or after the join timeout, or once closed). */
  positioned(): Promise<void> {
    return waitUntil(() => this.closed || this.position !== undefined, this.o.joinTimeoutMs);
  }

  /**
   * The reading connection is up: reads what is new; after a reconnect (not the first time), as a
   * catch-up between {@link BusReceiver.resubscribing} and {@link BusReceiver.reconnected}.
   */
  up(): void {
    const reconnect = this.everUp;
    this.everUp = true;
    if (reconnect) {
      this.o.counters.reconnects++;
      this.replaying = true;
      this.o.context.receiver.resubscribing();
    }
    void this.read().then(() => {
      if (reconnect && !this.closed) this.o.context.receiver.reconnected();
    });
  }

  /**
   * A wake-up: reads when it names a log the node reads (or none: to be safe); otherwise, as
   * {@link ignore}.
   */
  wake(key?: string): void {
    if (key !== undefined && !this.keys.has(key)) {
      this.ignore();
      return;
    }
    this.o.counters.notifications++;
    void this.read();
  }

  /** A wake-up that concerns another hub, or this node's own send: no read, but the position may lag. */
  ignore(): void {
    this.o.counters.notifications++;
    this.o.counters.notificationsIgnored++;
    this.behind = true;
  }

  /**
   * Reads a log from now on. Resolves at once, or, when the position lags the log, once the next
   * read found its start (bounded by the join timeout, past which it reports and resolves).
   */
  async join(key: string): Promise<void> {
    this.keys.add(key);
    if (this.position === undefined) return;
    // A read under way may move the position past rows of this log without them: the next read
    // reads it from the position as it is now. When the position lags, reading from it would
    // deliver rows sent before the join: the log starts at the head the next read finds.
    this.joined.set(key, this.behind ? FROM_HEAD : this.position);
    if (!this.behind) return;
    void this.read();
    const deadline = Date.now() + this.o.joinTimeoutMs;
    while (this.joined.get(key) === FROM_HEAD && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.o.report(`a joined channel's start position was not set within ${this.o.joinTimeoutMs} ms`);
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops reading a log. */
  leave(key: string): void {
    this.keys.delete(key);
    this.joined.delete(key);
  }

  /** Reads every entry committed so far on the node's logs and delivers it. One read at a time. */
  read(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.again = false;
          await this.readAll();
        } while (this.again && !this.closed);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /** Stops; the waits of {@link join} resolve. */
  async close(): Promise<void> {
    this.closed = true;
    this.settle();
    await this.reading?.catch(() => undefined);
  }

  private settle(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private async readAll(): Promise<void> {
    if (!this.o.readable() || this.position === undefined || this.closed) return;
    const replay = this.replaying;
    let cursor = this.position;
    this.behind = false;
    try {
      for (;;) {
        // One snapshot of the joined logs and of the logs to read: a join after it waits for the
        // next read (read twice otherwise: once from the join, once from the position).
        const joined = new Map([...this.joined].filter(([, since]) => since !== FROM_HEAD));
        for (const key of joined.keys()) this.joined.delete(key);
        const keys = [...this.keys].filter((key) => this.joined.get(key) !== FROM_HEAD);
        await this.readJoined(joined, cursor, replay);
        this.o.counters.reads++;
        const page = await this.o.read(keys, cursor, undefined, this.pageSize);
        if (page.trimmedTo > cursor) {
          this.o.context.receiver.lost(
            undefined,
            1,
            `hub ${this.o.context.hubName}: log entries after ${cursor} up to ${page.trimmedTo} left the replay window before this node read them`,
          );
          cursor = page.trimmedTo;
          this.position = cursor;
        }
        let last = cursor;
        for (const row of page.rows) {
          last = row.id;
          this.deliver(row, replay);
        }
        const full = page.rows.length >= this.pageSize;
        cursor = full ? last : Math.max(last, page.head);
        this.position = cursor;
        this.o.counters.lagRows = Math.max(0, page.head - cursor);
        if (!full) break;
      }
      // Logs joined while the position lagged start here, at the head this read reached.
      for (const [key, since] of this.joined) if (since === FROM_HEAD) this.joined.set(key, cursor);
      this.settle();
      if (replay) this.replaying = false;
    } catch (error) {
      // The connection went away mid-read: the next wake-up or reconnect reads again.
      this.o.report(`reading the log of hub ${this.o.context.hubName}`, error);
    }
  }

  /**
   * Reads the logs joined since a read that did not know them began (`joined`, taken from the
   * joins): each from its position at the join up to `upTo`, before anything newer is delivered.
   */
  private async readJoined(joined: Map<string, number>, upTo: number, replay: boolean): Promise<void> {
    if (joined.size === 0) return;
    let from = Math.min(...joined.values());
    try {
      while (from < upTo) {
        this.o.counters.reads++;
        const page = await this.o.read([...joined.keys()], from, upTo, this.pageSize);
        for (const row of page.rows) {
          from = row.id;
          const since = joined.get(row.key);
          if (since !== undefined && row.id > since && this.keys.has(row.key)) this.deliver(row, replay);
        }
        if (page.rows.length < this.pageSize) break;
      }
    } catch (error) {
      // Read again from where this stopped (nothing delivered twice).
      for (const [key, since] of joined)
        if (this.keys.has(key) && !this.joined.has(key)) this.joined.set(key, Math.max(since, from));
      throw error;
    }
  }

  private deliver(row: LogCursorRow, replay: boolean): void {
    this.o.counters.messagesReceived++;
    this.o.counters.bytesReceived += row.payload.length;
    if (replay) this.o.counters.replayed++;
    if (row.channel) this.o.context.receiver.message(row.channel, row.payload);
  }
}
