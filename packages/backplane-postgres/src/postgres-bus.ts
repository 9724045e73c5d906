/**
 * The PostgreSQL bus (a `Bus` on the core's `BusBase`): the transport of one hub on one node.
 * Every send is a row of `<schema>.bus_messages` (ids in commit order: one log for all channels),
 * written by the core's {@link BatchWriter} in one `bus_publish` call per batch; `NOTIFY` wakes the
 * readers; the core's {@link LogCursor} reads the node's channels from one position over the log
 * on the LISTEN connection, catches up after a reconnect and counts what left the window. The bus
 * adds the routes of the node's connections, its lease and the clean-up of old rows.
 * @module
 */
import {
  ALL_CHANNEL,
  BackplaneError,
  BatchWriter,
  BusBase,
  type BusContext,
  type BusStatus,
  type Channel,
  Intervals,
  type KeepConnected,
  LogCursor,
  type LogCursorCounters,
  type LogCursorPage,
  newLogCursorCounters,
  parseChannelName,
  retryUntil,
  waitUntil,
  withTimeout,
} from '@switchboard/server/scaleout';
import pg from 'pg';
import { migrateComponents, quoteIdent } from './migrations.js';
import { listen } from './notification-listener.js';
import type { PostgresBusSettings } from './postgres-options.js';

/** What the PostgreSQL bus counts on top of every bus's counters (the core's {@link LogCursorCounters}). */
export type PostgresBusCounters = LogCursorCounters;

/** A row to write: a send to `target`, or a route change (`+c:<id>` / `-c:<id>`). */
interface WriteRow {
  readonly target: string;
  readonly payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const KINDS: Record<string, string> = { g: 'group', u: 'user', n: 'node', c: 'connection' };

/**
 * The `target` a channel is written with: `a`, `g:<group>`, `u:<user>`, `n:<node>` (a node's
 * inbox) are logs the nodes read; `c:<connection>` is routed by `bus_publish` to the inbox of the
 * node that holds the connection.
 */
function targetOf(channel: Channel): string {
  return channel.kind === 'all'
    ? 'a'
    : `${channel.kind[0]}:${channel.kind === 'group' ? channel.name : channel.id}`;
}

/** The channel a row's `target` names (the inverse of {@link targetOf}). */
function channelOfTarget(target: string): Channel | undefined {
  if (target === 'a') return ALL_CHANNEL;
  const kind = KINDS[target[0]!];
  return kind && target[1] === ':' ? parseChannelName(`${kind}:${target.slice(2)}`) : undefined;
}

/** The pool, the LISTEN connection, the read position and the routes of one hub on one node. */
export class PostgresBus extends BusBase<PostgresBusCounters> {
  readonly backend = 'postgres';
  private readonly pool: pg.Pool;
  private readonly s: string;
  private readonly hub: string;
  private readonly nodeId: string;
  private readonly listener: KeepConnected<pg.Client>;
  private readonly cursor: LogCursor;
  private readonly writer: BatchWriter<WriteRow>;
  private readonly timers = new Intervals();
  private readonly started: Promise<void>;
  private running = false;

  constructor(
    private readonly settings: PostgresBusSettings,
    context: BusContext,
  ) {
    super(context, newLogCursorCounters());
    this.s = quoteIdent(settings.schema);
    this.hub = context.hubName;
    this.nodeId = context.nodeId;
    this.pool = new pg.Pool(settings.pool);
    // An idle pooled connection that is cut emits here; the pool replaces it on the next query.
    this.pool.on('error', (e) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'pooled connection lost', e));
    const publish = `SELECT ${this.s}.bus_publish($1, $2, $3, $4::text[], $5::text[], $6::bytea[]) AS w`;
    this.writer = new BatchWriter<WriteRow>({
      maxQueued: settings.maxQueuedPublishes,
      // One call per batch; resolves per row 1 (written), 2 (to the inbox of a node whose lease ran
      // out), 0 (a `c:` target no node holds). Exclusions travel in the envelope.
      write: async (batch) =>
        (
          await this.pool.query<{ w: number[] }>({
            name: `sb_publish_${settings.schema}`, // prepared once per pooled connection
            text: publish,
            values: [
              settings.notifyChannel,
              this.hub,
              this.nodeId,
              batch.map((row) => row.target),
              batch.map(() => ''),
              batch.map((row) => row.payload),
            ],
          })
        ).rows[0]!.w,
      unreachable: isConnectionError,
      isPublish: (row, written) => written !== undefined && written >= 1 && !/^[+-]/.test(row.target),
      describe: (row) => `a send to ${row.target}`,
      report: (code, what, cause) => this.report(code, what, cause),
      counters: this.counters,
    });
    this.cursor = new LogCursor({
      context,
      counters: this.counters,
      read: (keys, after, upTo, limit) => this.read(keys, after, upTo, limit),
      readable: () => this.listener.connection !== undefined,
      joinTimeoutMs: settings.subscribeTimeoutMs,
      report: (what, cause) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', what, cause),
    });
    this.listener = listen({
      config: settings.listen,
      channel: settings.notifyChannel,
      onNotification: (payload) => this.onNotification(payload),
      onListen: async (client) => {
        if (this.cursor.position !== undefined) return;
        const head = await client.query(`SELECT coalesce(max(id), 0) AS head FROM ${this.s}.bus_messages`);
        this.cursor.begin(Number(head.rows[0]!.head));
      },
      onUp: () => this.cursor.up(),
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
    return waitUntil(
      () => this.closed || (this.status().connected && this.cursor.position !== undefined),
      timeoutMs,
    );
  }

  /**
   * Reads a channel from now on; for a connection's channel, writes the route that sends to the
   * connection follow (in the same ordered queue as the sends). Resolves once the channel's start
   * position is set (bounded by `subscribeTimeoutMs`, past which it reports and resolves).
   */
  async subscribe(channel: Channel): Promise<void> {
    // Before the first LISTEN the channel is read from the head found then.
    await this.cursor.positioned();
    if (channel.kind !== 'connection') return this.cursor.join(targetOf(channel));
    const route = this.writer.enqueue({ target: `+c:${channel.id}`, payload: EMPTY });
    // While PostgreSQL is away the route waits in the queue; the connection is served locally.
    if (this.writer.writable) await route;
  }

  /** Stops reading a channel; for a connection's channel, removes its route. */
  async unsubscribe(channel: Channel): Promise<void> {
    if (channel.kind === 'connection')
      void this.writer.enqueue({ target: `-c:${channel.id}`, payload: EMPTY });
    else this.cursor.leave(targetOf(channel));
  }

  /**
   * Queues a row for the log. Resolves with 1 once written; for a connection's channel with 0 when
   * no node holds the connection or its node's lease ran out (the row then waits in that node's
   * inbox, should it come back); undefined when dropped or refused (reported). Never rejects.
   */
  async publish(channel: Channel, payload: Uint8Array): Promise<number | undefined> {
    const written = await this.writer.enqueue({ target: targetOf(channel), payload });
    return written === 2 ? 0 : written;
  }

  /** Resolves once every queued write so far has been written (or dropped). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Reads every row committed so far on this node's channels and delivers it. */
  catchUp(): Promise<void> {
    return this.cursor.read();
  }

  /** Stops the timers, removes this node's routes and lease, closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.writer.down && this.running) await withTimeout(this.flush(), 1_000);
    this.closed = true;
    this.timers.clear();
    this.writer.close();
    await this.cursor.close();
    await this.started;
    await this.listener.close();
    await this.forget(true).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /** Migrates (retried with backoff), forgets stale routes, takes the lease, then runs. */
  private async start(): Promise<void> {
    const prepare =
      this.settings.prepare ?? (() => migrateComponents(this.pool, this.settings.schema, 'bus'));
    let listening = false;
    const started = await retryUntil(
      async () => {
        await prepare();
        // Listening (and finding the log's head) goes on meanwhile: it needs only the tables.
        if (!listening) void this.listener.start();
        listening = true;
        // Routes a previous run of this node left behind are stale; the writer waits for that.
        await Promise.all([this.forget(false), this.beat()]);
      },
      {
        stopped: () => this.closed,
        onError: (error) =>
          error instanceof BackplaneError
            ? this.emit(error)
            : this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `starting hub ${this.hub}`, error),
      },
    );
    if (!started) return;
    this.running = true;
    this.timers.every(this.settings.nodeLeaseMs / 3, () =>
      this.beat().catch((e: unknown) =>
        this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'renewing the node lease', e),
      ),
    );
    // A safety net beside the wake-ups; it also keeps the read position fresh.
    this.timers.every(this.settings.pollIntervalMs, () => this.listener.connection && this.cursor.read());
    this.timers.every(this.settings.trimIntervalMs, () => this.trim());
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

  /** A wake-up `[hub, origin, channel]` (or `*`): read when it names a channel this node reads. */
  private onNotification(payload: string): void {
    let parsed: unknown;
    try {
      parsed = payload === '*' ? undefined : JSON.parse(payload);
    } catch {
      // not in our form: read, to be safe
    }
    if (!Array.isArray(parsed)) {
      this.cursor.wake();
      return;
    }
    const [hub, origin, channel] = parsed as unknown[];
    if (hub !== this.hub || origin === this.nodeId || typeof channel !== 'string') this.cursor.ignore();
    else this.cursor.wake(channel);
  }

  /** The {@link LogCursor}'s query, on the LISTEN connection: rows, the head and the clean-up's mark. */
  private async read(keys: readonly string[], after: number, upTo: number | undefined, limit: number) {
    const client = this.listener.connection;
    if (!client) throw new Error('the LISTEN connection is down');
    const { rows } = await client.query<{
      head: string;
      trimmed_to: string;
      id: string | null;
      channel: string;
      target: string;
      payload: Buffer;
    }>(
      `SELECT h.head, h.trimmed_to, m.id, m.channel, m.target, m.payload
         FROM (SELECT (SELECT coalesce(max(id), 0) FROM ${this.s}.bus_messages) AS head,
                      (SELECT trimmed_to FROM ${this.s}.bus_state) AS trimmed_to) h
         LEFT JOIN LATERAL (
           SELECT id, channel, target, payload FROM ${this.s}.bus_messages
            WHERE hub = $1 AND channel = ANY ($2::text[]) AND id > $3 AND id <= coalesce($5::bigint, h.head)
              AND origin <> $4
            ORDER BY id LIMIT $6) m ON true
        ORDER BY m.id`,
      [this.hub, keys, after, this.nodeId, upTo ?? null, limit],
    );
    const page: LogCursorPage = {
      head: Number(rows[0]!.head),
      trimmedTo: Number(rows[0]!.trimmed_to),
      rows: rows.flatMap((r) =>
        r.id === null
          ? []
          : [{ id: Number(r.id), key: r.channel, channel: channelOfTarget(r.target), payload: r.payload }],
      ),
    };
    return page;
  }

  private async trim(): Promise<void> {
    if (this.closed) return;
    const { notifyChannel, maxAgeMs, maxRows } = this.settings;
    await this.pool
      .query(`SELECT ${this.s}.bus_trim($1, $2, $3)`, [notifyChannel, maxAgeMs, maxRows])
      .catch((e: unknown) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'cleaning up the log', e));
  }
}

/**
 * Whether an error means "PostgreSQL is not reachable now" (retry the same write, or presence
 * call, later) rather than "PostgreSQL refuses this" (drop it): no SQLSTATE (a socket error, a
 * connection pg ended), or connection exceptions (08), operator intervention (57), resources (53),
 * and transaction rollbacks (40: a deadlock, a serialization failure).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code !== 'string' ||
    !/^[0-9A-Z]{5}$/.test(code) ||
    ['08', '57', '53', '40'].includes(code.slice(0, 2))
  );
}
