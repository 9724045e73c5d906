/**
 * The bus under the lifetime manager: a pool for writes (ordered, batched, queued while PostgreSQL
 * is unreachable), one LISTEN connection per hub and node that also does the reads, the set of
 * channels this node reads (counted by reference), one read cursor, and the clean-up of old rows.
 * @module
 */
import pg from 'pg';
import { decodeEnvelope, type Envelope } from './envelope.js';
import { type BackplanePostgresErrorCode, PostgresBackplaneError } from './errors.js';
import { quoteIdent } from './migrations.js';

/** What a node counts about its bus traffic (for tests and metrics). */
export interface BusCounters {
  /** Rows read from the log for this node's channels (another node's sends). */
  messagesReceived: number;
  /** Payload bytes of those rows. */
  bytesReceived: number;
  /** Rows delivered by a catch-up after the LISTEN connection came back. */
  replayed: number;
  /** Envelopes dropped because they had been delivered already (sendGroups, a retried write). */
  duplicatesDropped: number;
  /** Times rows this node had not read yet left the replay window (each reported as a gap). */
  lost: number;
  /** Rows written (sends and commands). */
  published: number;
  /** Sends that waited in the queue because PostgreSQL was unreachable. */
  queued: number;
  /** Sends dropped because the queue was full while PostgreSQL was unreachable. */
  queueOverflows: number;
  /** Reconnects of the LISTEN connection (each followed by a catch-up from the last id read). */
  reconnects: number;
  /** Errors reported to onError. */
  errors: number;
  /** Notifications received. */
  notifications: number;
  /** Notifications for channels this node does not read, or for its own sends: no read follows. */
  notificationsIgnored: number;
  /** Reads of the log (queries). */
  reads: number;
  /** Rows of the whole log committed after the last one this node had read, at its last read. */
  lagRows: number;
}

/** A row of `bus_messages` as a node reads it. */
export interface BusRow {
  readonly id: number;
  /** What the sender addressed: `a`, `g:<group>`, `u:<user>`, `n:<node>` or `c:<connection id>`. */
  readonly target: string;
  readonly excluded: readonly string[] | null;
}

/** Options of {@link PostgresBus}. */
export interface PostgresBusOptions {
  readonly pool: pg.Pool;
  /** Settings of the LISTEN connection. */
  readonly listen: pg.ClientConfig;
  readonly schema: string;
  /** The NOTIFY channel of the schema. */
  readonly notifyChannel: string;
  readonly hub: string;
  readonly nodeId: string;
  readonly maxAgeMs: number;
  readonly maxRows: number;
  readonly maxQueuedPublishes: number;
  readonly pollIntervalMs: number;
  readonly trimIntervalMs: number;
  readonly onError: (error: PostgresBackplaneError) => void;
  /** Receives every envelope of a channel this node reads once, in log order, except its own. */
  readonly handler: (row: BusRow, envelope: Envelope) => void;
}

interface LogRow {
  head: string;
  trimmed_to: string;
  id: string | null;
  target: string;
  excluded: string[] | null;
  payload: Buffer;
}

interface QueuedPublish {
  readonly target: string;
  readonly excluded: string;
  readonly payload: Buffer;
  readonly resolve: (written: number | undefined) => void;
}

const BATCH = 256;
const READ_LIMIT = 1_000;
const SEEN_LIMIT = 10_000;
const MAX_BACKOFF_MS = 2_000;
/** A joined channel's start position before the read that sets it to the head it finds. */
const FROM_HEAD = -1;

/** The pool, the LISTEN connection and the delivery rules of one node and hub. */
export class PostgresBus {
  readonly counters: BusCounters = {
    messagesReceived: 0,
    bytesReceived: 0,
    replayed: 0,
    duplicatesDropped: 0,
    lost: 0,
    published: 0,
    queued: 0,
    queueOverflows: 0,
    reconnects: 0,
    errors: 0,
    notifications: 0,
    notificationsIgnored: 0,
    reads: 0,
    lagRows: 0,
  };
  private readonly channels = new Map<string, number>();
  /**
   * Channels read since the position given, not yet read by a read that knew them; `FROM_HEAD`
   * for a channel joined while the position lagged (see {@link subscribe}).
   */
  private readonly joined = new Map<string, number>();
  /** Notifications were ignored since the last read began: the position may lag the log's head. */
  private behind = false;
  /** Resolved once the channels joined while the position lagged have their start position. */
  private positionWaiters: Array<() => void> = [];
  private readonly queue: QueuedPublish[] = [];
  private readonly seen = new Set<string>();
  private readonly s: string;
  private listener: pg.Client | undefined;
  private everListened = false;
  private listenBackoff = 50;
  private listenTimer: NodeJS.Timeout | undefined;
  /** The last log id read (undefined until the first LISTEN holds). */
  private cursor: number | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  /** The next read is a catch-up after a reconnect: its rows count as replayed. */
  private replaying = false;
  private writing = false;
  private writerDown = false;
  private writeBackoff = 50;
  private readonly timers: NodeJS.Timeout[] = [];
  private started = false;
  private closed = false;

  constructor(private readonly options: PostgresBusOptions) {
    this.s = quoteIdent(options.schema);
  }

  /** How many channels this node reads now. */
  get subscribedChannels(): number {
    return this.channels.size;
  }

  /** Whether the LISTEN connection is up and the writes go through. */
  get connected(): boolean {
    return this.listener !== undefined && !this.writerDown;
  }

  /** Sends waiting to be written. */
  get queueLength(): number {
    return this.queue.length;
  }

  /** Starts listening, reading, writing and cleaning up (the schema is migrated by then). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.connectListener();
    void this.write();
    const poll = setInterval(() => {
      if (this.listener) void this.read();
    }, this.options.pollIntervalMs);
    const trim = setInterval(() => void this.trim(), this.options.trimIntervalMs);
    poll.unref();
    trim.unref();
    this.timers.push(poll, trim);
  }

  /** Resolves once the LISTEN connection holds and the cursor is known, or after `timeoutMs`. */
  async listening(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((!this.listener || this.cursor === undefined) && !this.closed && Date.now() < deadline)
      await sleep(5);
  }

  /**
   * Reads a channel from now on (counted by reference). Resolves once the channel's start
   * position is set: at once when it is already read, or after the read that finds the head for
   * a channel joined while the position lagged. Never rejects.
   */
  subscribe(channel: string): Promise<void> {
    const refs = this.channels.get(channel) ?? 0;
    this.channels.set(channel, refs + 1);
    // A read already under way may move the position past rows of this channel without them:
    // the next read reads this channel from the position as it is now.
    // When wake-ups for other channels were ignored, the position lags the log: reading the new
    // channel from it would deliver rows sent before the join. It then starts from the head that
    // the next read finds (at once: a read is started now).
    if (refs === 0 && this.cursor !== undefined) {
      this.joined.set(channel, this.behind ? FROM_HEAD : this.cursor);
      if (this.behind) void this.read();
    }
    if (this.joined.get(channel) !== FROM_HEAD || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.positionWaiters.push(resolve));
  }

  /** Settles the promises of {@link subscribe} waiting for a start position. */
  private settlePositions(): void {
    for (const resolve of this.positionWaiters.splice(0)) resolve();
  }

  /** Drops one reference to a channel. */
  unsubscribe(channel: string): void {
    const refs = this.channels.get(channel);
    if (refs === undefined) return;
    if (refs <= 1) {
      this.channels.delete(channel);
      this.joined.delete(channel);
    } else this.channels.set(channel, refs - 1);
  }

  /**
   * Queues a row (or a route change, `+c:`/`-c:`) for the log. Resolves with 1 once written, 2
   * once written to the inbox of a `c:` target's node whose lease ran out, 0 when a `c:` target has
   * no holder, undefined when dropped or refused (reported). Never rejects.
   */
  publish(target: string, payload: Buffer, excluded?: readonly string[]): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(undefined);
      this.queue.push({ target, payload, excluded: excluded ? excluded.join('\x1f') : '', resolve });
      if (this.writerDown || !this.started) this.counters.queued++;
      this.dropOverflow();
      void this.write();
    });
  }

  /** Whether writes currently go through (a send may wait for its row). */
  get writable(): boolean {
    return this.started && !this.writerDown;
  }

  /** Resolves once every queued write so far has been written (or dropped). */
  async idle(): Promise<void> {
    while ((this.queue.length > 0 || this.writing) && !this.closed) await sleep(5);
  }

  /** Reads every row committed so far on this node's channels and delivers it. */
  async catchUp(): Promise<void> {
    await this.read();
  }

  /** Stops the timers and closes the LISTEN connection; queued writes are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.writerDown) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      });
      await Promise.race([this.idle(), limit]).finally(() => clearTimeout(timer));
    }
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.listenTimer);
    for (const item of this.queue.splice(0)) item.resolve(undefined);
    this.settlePositions();
    const listener = this.listener;
    this.listener = undefined;
    await this.reading?.catch(() => undefined);
    await listener?.end().catch(() => undefined);
  }

  private connectListener(): void {
    if (this.closed) return;
    const client = new pg.Client(this.options.listen);
    let lost = false;
    const onLost = (error?: unknown) => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      this.report('SB_ERR_BACKPLANE_PG', 'LISTEN connection lost', error);
      client.end().catch(() => undefined);
      this.scheduleListen();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => this.onNotification(message));
    client
      .connect()
      .then(() => client.query(`LISTEN ${quoteIdent(this.options.notifyChannel)}`))
      .then(async () => {
        if (this.cursor === undefined) {
          const head = await client.query<{ head: string }>(
            `SELECT coalesce(max(id), 0) AS head FROM ${this.s}.bus_messages`,
          );
          this.cursor = Number(head.rows[0]!.head);
        }
        if (lost || this.closed) {
          if (this.closed) client.end().catch(() => undefined);
          return;
        }
        this.listener = client;
        this.listenBackoff = 50;
        if (this.everListened) {
          this.counters.reconnects++;
          this.replaying = true;
        }
        this.everListened = true;
        void this.read();
      })
      .catch(onLost);
  }

  private scheduleListen(): void {
    if (this.closed || this.listenTimer) return;
    const delay = this.listenBackoff * (0.5 + Math.random() / 2);
    this.listenBackoff = Math.min(this.listenBackoff * 2, MAX_BACKOFF_MS);
    this.listenTimer = setTimeout(() => {
      this.listenTimer = undefined;
      this.connectListener();
    }, delay);
  }

  private onNotification(message: pg.Notification): void {
    this.counters.notifications++;
    if (message.channel !== this.options.notifyChannel) return;
    if (message.payload !== '*' && !this.concerns(message.payload ?? '')) {
      this.counters.notificationsIgnored++;
      this.behind = true;
      return;
    }
    void this.read();
  }

  /** Whether a notification (`[hub, origin, channel]`) names a channel this node reads. */
  private concerns(payload: string): boolean {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return true; // not in our form: read, to be safe
    }
    if (!Array.isArray(parsed)) return true;
    const [hub, origin, channel] = parsed as unknown[];
    return (
      hub === this.options.hub &&
      origin !== this.options.nodeId &&
      typeof channel === 'string' &&
      this.channels.has(channel)
    );
  }

  /** One read at a time; a read asked for meanwhile runs after it. */
  private read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.readAgain = false;
          await this.readAll();
        } while (this.readAgain && !this.closed);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async readAll(): Promise<void> {
    const client = this.listener;
    if (!client || this.cursor === undefined) return;
    const replay = this.replaying;
    let cursor: number = this.cursor;
    this.behind = false;
    try {
      for (;;) {
        await this.readJoined(client, cursor, replay);
        const channels = [...this.channels.keys()].filter((c) => this.joined.get(c) !== FROM_HEAD);
        this.counters.reads++;
        const result: pg.QueryResult<LogRow> = await client.query<LogRow>(
          `SELECT h.head, h.trimmed_to, m.id, m.target, m.excluded, m.payload
             FROM (SELECT (SELECT coalesce(max(id), 0) FROM ${this.s}.bus_messages) AS head,
                          (SELECT trimmed_to FROM ${this.s}.bus_state) AS trimmed_to) h
             LEFT JOIN LATERAL (
               SELECT id, target, excluded, payload FROM ${this.s}.bus_messages
                WHERE hub = $1 AND channel = ANY ($2::text[]) AND id > $3 AND id <= h.head AND origin <> $4
                ORDER BY id LIMIT ${READ_LIMIT}) m ON true
            ORDER BY m.id`,
          [this.options.hub, channels, cursor, this.options.nodeId],
        );
        const head = Number(result.rows[0]!.head);
        const trimmedTo = Number(result.rows[0]!.trimmed_to);
        if (trimmedTo > cursor) {
          this.counters.lost++;
          this.report(
            'SB_ERR_BACKPLANE_PG_REPLAY_GAP',
            `hub ${this.options.hub}: log rows after ${cursor} up to ${trimmedTo} left the replay window before this node read them`,
          );
          cursor = trimmedTo;
          this.cursor = cursor;
        }
        let last = cursor;
        for (const row of result.rows) {
          if (row.id === null) continue;
          last = Number(row.id);
          this.counters.messagesReceived++;
          this.counters.bytesReceived += row.payload.length;
          if (replay) this.counters.replayed++;
          this.deliver({ id: last, target: row.target, excluded: row.excluded }, row.payload);
        }
        const full = result.rows.length >= READ_LIMIT && result.rows[0]!.id !== null;
        cursor = full ? last : Math.max(last, head);
        this.cursor = cursor;
        this.counters.lagRows = Math.max(0, head - cursor);
        if (!full) break;
      }
      // Channels joined while the position lagged start here, at the head this read reached.
      for (const [channel, since] of this.joined) if (since === FROM_HEAD) this.joined.set(channel, cursor);
      this.settlePositions();
      if (replay) this.replaying = false;
    } catch (error) {
      // The LISTEN connection went away mid-read: its 'error' reconnects, then this runs again.
      this.report('SB_ERR_BACKPLANE_PG', `reading the log of hub ${this.options.hub}`, error);
    }
  }

  /**
   * Reads the channels subscribed since a read that did not know them began: each from the
   * position at its subscription up to `upTo`, before anything newer is delivered.
   */
  private async readJoined(client: pg.Client, upTo: number, replay: boolean): Promise<void> {
    if (this.joined.size === 0) return;
    const joined = new Map([...this.joined].filter(([, since]) => since !== FROM_HEAD));
    if (joined.size === 0) return;
    for (const channel of joined.keys()) this.joined.delete(channel);
    const from = Math.min(...joined.values());
    if (from >= upTo) return;
    try {
      this.counters.reads++;
      const result = await client.query<{
        id: string;
        channel: string;
        target: string;
        excluded: string[] | null;
        payload: Buffer;
      }>(
        `SELECT id, channel, target, excluded, payload FROM ${this.s}.bus_messages
          WHERE hub = $1 AND channel = ANY ($2::text[]) AND id > $3 AND id <= $4 AND origin <> $5
          ORDER BY id`,
        [this.options.hub, [...joined.keys()], from, upTo, this.options.nodeId],
      );
      for (const row of result.rows) {
        const id = Number(row.id);
        const since = joined.get(row.channel);
        if (since === undefined || id <= since || !this.channels.has(row.channel)) continue;
        this.counters.messagesReceived++;
        this.counters.bytesReceived += row.payload.length;
        if (replay) this.counters.replayed++;
        this.deliver({ id, target: row.target, excluded: row.excluded }, row.payload);
      }
    } catch (error) {
      for (const [channel, since] of joined)
        if (this.channels.has(channel) && !this.joined.has(channel)) this.joined.set(channel, since);
      throw error;
    }
  }

  private deliver(row: BusRow, payload: Buffer): void {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(payload);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_PG', `undecodable envelope at log id ${row.id}`, error);
      return;
    }
    const key = `${envelope.o}:${envelope.n}`;
    if (this.seen.has(key)) {
      this.counters.duplicatesDropped++;
      return;
    }
    this.seen.add(key);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value!);
    try {
      this.options.handler(row, envelope);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_PG', `handling the message at log id ${row.id}`, error);
    }
  }

  /** The single writer: batches in queue order; on a lost connection the batch waits and retries. */
  private async write(): Promise<void> {
    if (this.writing || !this.started || this.closed) return;
    this.writing = true;
    try {
      let size = BATCH;
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.splice(0, size);
        try {
          const result = await this.options.pool.query<{ w: number[] }>({
            // Prepared once per pooled connection: a write spends no time parsing.
            name: `sb_publish_${this.options.schema}`,
            text: `SELECT ${this.s}.bus_publish($1, $2, $3, $4::text[], $5::text[], $6::bytea[]) AS w`,
            values: [
              this.options.notifyChannel,
              this.options.hub,
              this.options.nodeId,
              batch.map((item) => item.target),
              batch.map((item) => item.excluded),
              batch.map((item) => item.payload),
            ],
          });
          const written = result.rows[0]!.w;
          this.writerDown = false;
          this.writeBackoff = 50;
          size = BATCH;
          batch.forEach((item, i) => {
            if (written[i]! >= 1 && !item.target.startsWith('+') && !item.target.startsWith('-'))
              this.counters.published++;
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
            this.report('SB_ERR_BACKPLANE_PG', `writing a send to ${batch[0]!.target} (dropped)`, error);
            batch[0]!.resolve(undefined);
            continue;
          }
          this.queue.unshift(...batch);
          if (!this.writerDown) {
            this.writerDown = true;
            this.counters.queued += this.queue.length;
          }
          this.dropOverflow();
          this.report('SB_ERR_BACKPLANE_PG', 'writing to the log', error);
          await sleep(this.writeBackoff * (0.5 + Math.random() / 2));
          this.writeBackoff = Math.min(this.writeBackoff * 2, MAX_BACKOFF_MS);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private dropOverflow(): void {
    while (this.queue.length > this.options.maxQueuedPublishes) {
      const dropped = this.queue.shift()!;
      this.counters.queueOverflows++;
      this.report(
        'SB_ERR_BACKPLANE_PG_QUEUE_OVERFLOW',
        `publish queue full (${this.options.maxQueuedPublishes}); a send to ${dropped.target} dropped`,
      );
      dropped.resolve(undefined);
    }
  }

  private async trim(): Promise<void> {
    if (this.closed) return;
    try {
      await this.options.pool.query(`SELECT ${this.s}.bus_trim($1, $2, $3)`, [
        this.options.notifyChannel,
        this.options.maxAgeMs,
        this.options.maxRows,
      ]);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_PG', 'cleaning up the log', error);
    }
  }

  private report(code: BackplanePostgresErrorCode, what: string, cause?: unknown): void {
    if (this.closed) return;
    this.counters.errors++;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    try {
      this.options.onError(new PostgresBackplaneError(code, `${what}${detail}`, { cause }));
    } catch {
      // a throwing hook must not take the bus down
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
