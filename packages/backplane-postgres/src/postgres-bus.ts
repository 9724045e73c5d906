/**
 * The PostgreSQL {@link Bus}: the transport of one hub on one node. A pool for writes (ordered,
 * batched, queued while PostgreSQL is unreachable), one LISTEN connection that also does the reads,
 * one read position over the whole log (`bus_messages`, ids in commit order), the routes of the
 * node's connections and its lease, and the clean-up of old rows. The scale-out core does the rest
 * (envelopes, duplicates, groups, acks, client results).
 *
 * This bus has no per-channel replay log for the core to read ({@link Bus.log} is absent): it
 * delivers every row of a channel once and in log order, catches up by itself after a reconnect
 * (from its one position, in one query for all its channels), and reports rows that left the
 * window before it read them with {@link BusReceiver.lost}.
 * @module
 */
import {
  ALL_CHANNEL,
  BackplaneError,
  type BackplaneErrorCodeOnly,
  type BatchWriter,
  type Bus,
  type BusContext,
  type BusCounters,
  type BusStatus,
  backendError,
  type Channel,
  connectionChannel,
  groupChannel,
  newBusCounters,
  nodeChannel,
  type PublishOptions,
  reportBusError,
  userChannel,
  waitUntil,
} from '@switchboard/server/scaleout';
import pg from 'pg';
import { logWriter, type LogRow as WriteRow } from './log-writer.js';
import { loadSqlFiles, migrate, quoteIdent, sqlDir } from './migrations.js';
import { NotificationListener } from './notification-listener.js';

/** What the PostgreSQL bus counts on top of every bus's counters. */
export interface PostgresBusCounters extends BusCounters {
  /** Rows delivered by a catch-up after the LISTEN connection came back. */
  replayed: number;
  /** Notifications received. */
  notifications: number;
  /** Notifications for channels this node does not read, or for its own sends: no read follows. */
  notificationsIgnored: number;
  /** Reads of the log (queries). */
  reads: number;
  /** Rows of the whole log committed after the last one this node had read, at its last read. */
  lagRows: number;
}

/** The settings of a node's PostgreSQL buses (one bus per hub), from the backplane's options. */
export interface PostgresBusSettings {
  /** Settings of the pool (writes, routes, lease, clean-up), `application_name` included. */
  readonly pool: pg.PoolConfig;
  /** Settings of the LISTEN connection, `application_name` included. */
  readonly listen: pg.ClientConfig;
  readonly schema: string;
  /** The NOTIFY channel of the schema. */
  readonly notifyChannel: string;
  readonly maxAgeMs: number;
  readonly maxRows: number;
  readonly maxQueuedPublishes: number;
  readonly pollIntervalMs: number;
  readonly trimIntervalMs: number;
  readonly nodeLeaseMs: number;
  /** How long a subscription waits for its start position before it reports and goes on. */
  readonly subscribeTimeoutMs: number;
  /**
   * Makes sure the schema is migrated (shared by a backplane's buses, so a node migrates once).
   * Default: each bus migrates the `bus` component itself.
   */
  readonly prepare?: () => Promise<void>;
}

interface LogRow {
  head: string;
  trimmed_to: string;
  id: string | null;
  target: string;
  payload: Buffer;
}

const READ_LIMIT = 1_000;
const MAX_BACKOFF_MS = 2_000;
const EMPTY = new Uint8Array(0);
/** A joined channel's start position before the read that sets it to the head it finds. */
const FROM_HEAD = -1;

/**
 * The `target` a channel is written with: `a`, `g:<group>`, `u:<user>`, `n:<node>` (a node's
 * inbox) are channels of the log; `c:<connection>` is routed by `bus_publish` to the inbox of the
 * node that holds the connection.
 */
export function targetOf(channel: Channel): string {
  switch (channel.kind) {
    case 'all':
      return 'a';
    case 'group':
      return `g:${channel.name}`;
    case 'user':
      return `u:${channel.id}`;
    case 'node':
      return `n:${channel.id}`;
    case 'connection':
      return `c:${channel.id}`;
  }
}

/** The channel a row's `target` names (the inverse of {@link targetOf}). */
export function channelOfTarget(target: string): Channel | undefined {
  if (target === 'a') return ALL_CHANNEL;
  const rest = target.slice(2);
  switch (target.slice(0, 2)) {
    case 'g:':
      return groupChannel(rest);
    case 'u:':
      return userChannel(rest);
    case 'n:':
      return nodeChannel(rest);
    case 'c:':
      return connectionChannel(rest);
    default:
      return undefined;
  }
}

/** The pool, the LISTEN connection, the read position and the routes of one hub on one node. */
export class PostgresBus implements Bus {
  readonly backend = 'postgres';
  readonly counters: PostgresBusCounters = {
    ...newBusCounters(),
    replayed: 0,
    notifications: 0,
    notificationsIgnored: 0,
    reads: 0,
    lagRows: 0,
  };
  /** The channels of the log this node reads (a connection's channel is a route instead). */
  private readonly channels = new Set<string>();
  /**
   * Channels read since the position given, not yet read by a read that knew them; `FROM_HEAD`
   * for a channel joined while the position lagged (see {@link subscribe}).
   */
  private readonly joined = new Map<string, number>();
  /** Notifications were ignored since the last read began: the position may lag the log's head. */
  private behind = false;
  /** Resolved once the channels joined while the position lagged have their start position. */
  private positionWaiters: Array<() => void> = [];
  private readonly pool: pg.Pool;
  private readonly s: string;
  private readonly hub: string;
  private readonly nodeId: string;
  private readonly listener: NotificationListener;
  private everListened = false;
  /** The last log id read (undefined until the first LISTEN holds). */
  private cursor: number | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  /** The next read is a catch-up after a reconnect: its rows count as replayed. */
  private replaying = false;
  private readonly writer: BatchWriter<WriteRow>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly started: Promise<void>;
  private running = false;
  private closed = false;

  constructor(
    private readonly settings: PostgresBusSettings,
    private readonly context: BusContext,
  ) {
    this.s = quoteIdent(settings.schema);
    this.hub = context.hubName;
    this.nodeId = context.nodeId;
    this.pool = new pg.Pool(settings.pool);
    // An idle pooled connection that is cut emits here; the pool replaces it on the next query.
    this.pool.on('error', (error) =>
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'pooled connection lost', error),
    );
    this.writer = logWriter({
      pool: this.pool,
      settings,
      hub: this.hub,
      nodeId: this.nodeId,
      counters: this.counters,
      report: (code, what, cause) => this.report(code, what, cause),
    });
    this.listener = new NotificationListener({
      config: settings.listen,
      channel: settings.notifyChannel,
      onNotification: (payload) => this.onNotification(payload),
      onListen: async (client) => {
        if (this.cursor !== undefined) return;
        const head = await client.query<{ head: string }>(
          `SELECT coalesce(max(id), 0) AS head FROM ${this.s}.bus_messages`,
        );
        this.cursor = Number(head.rows[0]!.head);
      },
      onUp: () => {
        const reconnect = this.everListened;
        this.everListened = true;
        // No replay log for the core: the bus reads on from its position by itself.
        if (reconnect) {
          this.counters.reconnects++;
          this.replaying = true;
          this.context.receiver.resubscribing();
        }
        void this.read().then(() => {
          if (reconnect) this.context.receiver.reconnected();
        });
      },
      onError: (error) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'LISTEN connection lost', error),
    });
    this.started = this.start();
  }

  /** Whether the LISTEN connection is up and the writes go through. */
  status(): BusStatus {
    return {
      connected: this.listener.connection !== undefined && this.writer.writable,
      queued: this.writer.length,
    };
  }

  /**
   * Resolves once the schema is migrated, the node holds its lease, writes go through and the LISTEN
   * connection holds (its read position known), or after `timeoutMs`.
   */
  ready(timeoutMs: number): Promise<void> {
    return waitUntil(() => this.closed || (this.status().connected && this.cursor !== undefined), timeoutMs);
  }

  /**
   * Reads a channel from now on; for a connection's channel, writes the route that sends to the
   * connection follow (in the same ordered queue as the sends). Resolves once the channel's start
   * position is set (bounded by `subscribeTimeoutMs`, past which it reports and resolves).
   */
  async subscribe(channel: Channel): Promise<void> {
    // A subscription before the first LISTEN would read from a head found later: wait for it
    // (bounded: during an outage at start the channel is read from the head found at the LISTEN).
    await waitUntil(() => this.closed || this.cursor !== undefined, this.settings.subscribeTimeoutMs);
    if (channel.kind === 'connection') {
      const route = this.writer.enqueue({ target: `+c:${channel.id}`, payload: EMPTY });
      // Once written, a send from any node finds the connection; while PostgreSQL is away the
      // route waits in the queue and the connection is served locally meanwhile.
      if (this.writer.writable) await route;
      return;
    }
    const name = targetOf(channel);
    this.channels.add(name);
    if (this.cursor === undefined) return;
    // A read already under way may move the position past rows of this channel without them:
    // the next read reads this channel from the position as it is now. When wake-ups for other
    // channels were ignored, the position lags the log: reading the new channel from it would
    // deliver rows sent before the join. It then starts from the head that the next read finds.
    this.joined.set(name, this.behind ? FROM_HEAD : this.cursor);
    if (this.joined.get(name) !== FROM_HEAD) return;
    void this.read();
    await this.untilPositioned(name);
  }

  /** Stops reading a channel; for a connection's channel, removes its route. */
  async unsubscribe(channel: Channel): Promise<void> {
    if (channel.kind === 'connection') {
      void this.writer.enqueue({ target: `-c:${channel.id}`, payload: EMPTY });
      return;
    }
    const name = targetOf(channel);
    this.channels.delete(name);
    this.joined.delete(name);
  }

  /**
   * Queues a row for the log. Resolves with 1 once written; for a connection's channel with 0 when
   * no node holds the connection or its node's lease ran out (the row then waits in that node's
   * inbox, should it come back); undefined when dropped or refused (reported). Never rejects.
   */
  async publish(
    channel: Channel,
    payload: Uint8Array,
    _options?: PublishOptions,
  ): Promise<number | undefined> {
    const written = await this.writer.enqueue({ target: targetOf(channel), payload });
    return written === 2 ? 0 : written;
  }

  /** Resolves once every queued write so far has been written (or dropped). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Reads every row committed so far on this node's channels and delivers it. */
  async catchUp(): Promise<void> {
    await this.read();
  }

  /** Stops the timers, removes this node's routes and lease, closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.writer.down && this.running) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      });
      await Promise.race([this.flush(), limit]).finally(() => clearTimeout(timer));
    }
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.writer.close();
    this.settlePositions();
    await this.started;
    await this.reading?.catch(() => undefined);
    await this.listener.close();
    await this.forget(true).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  // ---- start, lease, routes --------------------------------------------------------------------

  /** Migrates (retried with backoff), forgets stale routes, takes the lease, then runs. */
  private async start(): Promise<void> {
    const prepare =
      this.settings.prepare ??
      (async () =>
        migrate(this.pool, {
          schema: this.settings.schema,
          component: 'bus',
          files: await loadSqlFiles(sqlDir('bus')),
        }));
    let listening = false;
    for (let backoff = 50; !this.closed; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
      try {
        await prepare();
        // Listening (and finding the log's head) goes on meanwhile: it needs only the tables.
        if (!listening) void this.listener.start();
        listening = true;
        // Routes a previous run of this node left behind are stale; the writer waits for that.
        await Promise.all([this.forget(false), this.beat()]);
        break;
      } catch (error) {
        if (error instanceof BackplaneError) this.emit(error);
        else this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `starting hub ${this.hub}`, error);
        await sleep(backoff);
      }
    }
    if (this.closed) return;
    this.running = true;
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.settings.nodeLeaseMs / 3, () =>
      this.beat().catch((error: unknown) =>
        this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'renewing the node lease', error),
      ),
    );
    every(this.settings.pollIntervalMs, () => {
      if (this.listener.connection) void this.read();
    });
    every(this.settings.trimIntervalMs, () => void this.trim());
    this.writer.start();
  }

  /** Renews this node's lease (a node whose lease ran out is taken as gone by the others). */
  private async beat(): Promise<void> {
    await this.pool.query(`SELECT ${this.s}.bus_beat($1, $2, $3)`, [
      this.hub,
      this.nodeId,
      this.settings.nodeLeaseMs,
    ]);
  }

  /** Deletes this node's routes (and, when it leaves, its lease). */
  private async forget(leaving: boolean): Promise<void> {
    const args = [this.hub, this.nodeId];
    await this.pool.query(`DELETE FROM ${this.s}.bus_connections WHERE hub = $1 AND node_id = $2`, args);
    if (leaving)
      await this.pool.query(`DELETE FROM ${this.s}.bus_nodes WHERE hub = $1 AND node_id = $2`, args);
  }

  /**
   * Waits (at most `subscribeTimeoutMs`) for the start position of a channel joined while the
   * position lagged; past that, reports it (its member may miss sends made meanwhile).
   */
  private async untilPositioned(name: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.settings.subscribeTimeoutMs);
    });
    while (this.joined.get(name) === FROM_HEAD && !this.closed) {
      const late = await Promise.race([
        new Promise<boolean>((resolve) => this.positionWaiters.push(() => resolve(false))),
        timedOut,
      ]);
      if (!late) continue;
      this.report(
        'SB_ERR_BACKPLANE_UNAVAILABLE',
        `a joined channel's start position was not set within ${this.settings.subscribeTimeoutMs} ms`,
      );
      break;
    }
    clearTimeout(timer);
  }

  /** Settles the waits of {@link subscribe} for a start position. */
  private settlePositions(): void {
    for (const resolve of this.positionWaiters.splice(0)) resolve();
  }

  // ---- reading ---------------------------------------------------------------------------------

  private onNotification(payload: string): void {
    this.counters.notifications++;
    if (payload !== '*' && !this.concerns(payload)) {
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
      hub === this.hub && origin !== this.nodeId && typeof channel === 'string' && this.channels.has(channel)
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
    const client = this.listener.connection;
    if (!client || this.cursor === undefined) return;
    const replay = this.replaying;
    let cursor: number = this.cursor;
    this.behind = false;
    try {
      for (;;) {
        await this.readJoined(client, cursor, replay);
        const channels = [...this.channels].filter((c) => this.joined.get(c) !== FROM_HEAD);
        this.counters.reads++;
        const result: pg.QueryResult<LogRow> = await client.query<LogRow>(
          `SELECT h.head, h.trimmed_to, m.id, m.target, m.payload
             FROM (SELECT (SELECT coalesce(max(id), 0) FROM ${this.s}.bus_messages) AS head,
                          (SELECT trimmed_to FROM ${this.s}.bus_state) AS trimmed_to) h
             LEFT JOIN LATERAL (
               SELECT id, target, payload FROM ${this.s}.bus_messages
                WHERE hub = $1 AND channel = ANY ($2::text[]) AND id > $3 AND id <= h.head AND origin <> $4
                ORDER BY id LIMIT ${READ_LIMIT}) m ON true
            ORDER BY m.id`,
          [this.hub, channels, cursor, this.nodeId],
        );
        const head = Number(result.rows[0]!.head);
        const trimmedTo = Number(result.rows[0]!.trimmed_to);
        if (trimmedTo > cursor) {
          this.context.receiver.lost(
            undefined,
            1,
            `hub ${this.hub}: log rows after ${cursor} up to ${trimmedTo} left the replay window before this node read them`,
          );
          cursor = trimmedTo;
          this.cursor = cursor;
        }
        let last = cursor;
        for (const row of result.rows) {
          if (row.id === null) continue;
          last = Number(row.id);
          this.deliver(row.target, row.payload, replay);
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
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `reading the log of hub ${this.hub}`, error);
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
      const result = await client.query<{ id: string; channel: string; target: string; payload: Buffer }>(
        `SELECT id, channel, target, payload FROM ${this.s}.bus_messages
          WHERE hub = $1 AND channel = ANY ($2::text[]) AND id > $3 AND id <= $4 AND origin <> $5
          ORDER BY id`,
        [this.hub, [...joined.keys()], from, upTo, this.nodeId],
      );
      for (const row of result.rows) {
        const since = joined.get(row.channel);
        if (since === undefined || Number(row.id) <= since || !this.channels.has(row.channel)) continue;
        this.deliver(row.target, row.payload, replay);
      }
    } catch (error) {
      for (const [channel, since] of joined)
        if (this.channels.has(channel) && !this.joined.has(channel)) this.joined.set(channel, since);
      throw error;
    }
  }

  private deliver(target: string, payload: Buffer, replay: boolean): void {
    this.counters.messagesReceived++;
    this.counters.bytesReceived += payload.length;
    if (replay) this.counters.replayed++;
    const channel = channelOfTarget(target);
    if (channel) this.context.receiver.message(channel, payload);
  }

  private async trim(): Promise<void> {
    if (this.closed) return;
    try {
      await this.pool.query(`SELECT ${this.s}.bus_trim($1, $2, $3)`, [
        this.settings.notifyChannel,
        this.settings.maxAgeMs,
        this.settings.maxRows,
      ]);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'cleaning up the log', error);
    }
  }

  private report(code: BackplaneErrorCodeOnly, what: string, cause?: unknown): void {
    this.emit(backendError(this.backend, code, what, cause));
  }

  /** Counts and hands an error to the core (never while closed). */
  private emit(error: BackplaneError): void {
    if (!this.closed) reportBusError(this.context, this.counters, error);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
