/**
 * The PostgreSQL {@link PresenceStore}: the presence of a cluster of nodes over one database, with
 * node leases, grace periods and online/offline transitions decided in SQL functions (see
 * sql/presence/001_presence.sql), and events delivered exactly once to every node.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type Logger,
  type NewPresenceConnection,
  type PresenceConnection,
  type PresenceEvent,
  type PresenceListener,
  type PresenceStore,
  presenceDefaults,
  SwitchboardError,
} from '@switchboard/server';
import pg from 'pg';
import { loadSqlFiles, migrate, schemaFromPrefix, sqlDir } from '../migrations.js';
import { NotificationListener } from './notification-listener.js';
import {
  checkMs,
  clientConfig,
  MAX_ATTEMPTS,
  type PostgresPresenceCounters,
  type PostgresPresenceStoreOptions,
  parseConnection,
  pgError,
  reportError,
  retryable,
  SCHEMA_NAME,
  withSearchPath,
} from './postgres-presence-options.js';
import { EventPump, type WireEvent } from './presence-event-pump.js';

export type { PostgresPresenceCounters, PostgresPresenceStoreOptions } from './postgres-presence-options.js';

interface LocalConnection {
  readonly userId: string;
  readonly data: PresenceConnection;
  readonly groups: Set<string>;
}

interface Head {
  readonly epoch: string;
  readonly head: number;
}

/**
 * The {@link PresenceStore} over PostgreSQL: one instance per node, every node with its own
 * `nodeId` and the same schema. Await {@link ready} (or any method, which waits for it) before
 * relying on the node being in the cluster.
 *
 * - Each node holds a lease (a `presence_nodes` row with `expires_at`) renewed by its heartbeat; a
 *   node whose lease ran out is swept once by a surviving node's heartbeat (`FOR UPDATE SKIP
 *   LOCKED`, then deleted in the same transaction).
 * - Online/offline transitions are decided in SQL functions, one transaction each; an offline
 *   waits with a due time on the user's row and is claimed once by whichever node's heartbeat (or
 *   grace timer) finds it due.
 * - Events get an epoch and a gapless number in the same transaction, are kept in a log table and
 *   announced with NOTIFY. Each node delivers each number once, in order, reading any gap from the
 *   log (after its LISTEN connection came back, or when its heartbeat sees it is behind).
 * - After the tables were emptied, the node finds its lease gone on the next heartbeat and
 *   re-asserts its lease, connections and their groups (kept in memory), without announcing its
 *   users again. A dropped query connection is replaced by the pool and the call retried.
 *
 * Never throws on a database error outside a call: the heartbeat reports to `onError` and retries.
 *
 * @example
 * ```ts
 * const presence = new PostgresPresenceStore({ pg: process.env.DATABASE_URL, nodeId: 'node-a' });
 * await presence.ready;
 * presence.subscribe((e) => console.log(e.type, e.userId));
 * ```
 */
export class PostgresPresenceStore implements PresenceStore {
  readonly nodeId: string;
  /** The schema of the tables. */
  readonly schema: string;
  /** Resolves once the node joined the cluster (or reported why not; the heartbeat retries). */
  readonly ready: Promise<void>;
  private readonly graceMs: number;
  private readonly leaseMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly logLength: number;
  private readonly logger: Logger | undefined;
  private readonly onErrorHook: (error: unknown, event?: PresenceEvent) => void;
  private readonly pool: pg.Pool;
  private readonly listenConfig: pg.ClientConfig;
  private listener: NotificationListener | undefined;
  private readonly pump: EventPump;
  private readonly token = randomUUID();
  private readonly listeners = new Set<PresenceListener>();
  /** This node's connections, in arrival order, to re-assert after the tables were emptied. */
  private readonly local = new Map<string, LocalConnection>();
  /** The users online as this node's events tell: re-asserted after the tables were emptied. */
  private readonly onlineView = new Set<string>();
  /** The epoch of the node's last lease: a different one in the database means they were emptied. */
  private leaseEpoch = '';
  private joined = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private dead = false;
  private readonly counts = { errors: 0, reasserts: 0, retries: 0 };

  constructor(options: PostgresPresenceStoreOptions = {}) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.schema = options.schema ?? schemaFromPrefix(options.prefix ?? 'switchboard:');
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `Presence schema '${this.schema}' must be lowercase letters, digits and '_' (at most 63, not starting with a digit).`,
      );
    }
    this.graceMs = checkMs('graceMs', options.graceMs ?? presenceDefaults.graceMs, 0);
    this.leaseMs = checkMs('leaseMs', options.leaseMs ?? presenceDefaults.leaseMs, 1);
    this.heartbeatIntervalMs = checkMs(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? Math.max(1, Math.floor(this.leaseMs / 3)),
      1,
    );
    if (this.heartbeatIntervalMs >= this.leaseMs) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `Presence heartbeatIntervalMs (${this.heartbeatIntervalMs}) must be shorter than leaseMs (${this.leaseMs}).`,
      );
    }
    this.logLength = checkMs('eventLogLength', options.eventLogLength ?? 1_000, 1);
    const poolSize = checkMs('poolSize', options.poolSize ?? 4, 1);
    this.logger = options.logger;
    this.onErrorHook = options.onError ?? reportError;
    const base = clientConfig(options.pg ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    const appName = (options.applicationName ?? `sb-presence:${this.nodeId}`).slice(0, 56);
    this.pool = new pg.Pool({
      ...withSearchPath(base, this.schema),
      max: poolSize,
      application_name: appName,
    });
    // An idle connection that drops (terminated, the server restarted) is replaced by the pool.
    this.pool.on('error', (error: unknown) => this.report(pgError('idle connection', error)));
    this.listenConfig = {
      ...withSearchPath(options.listen === undefined ? base : clientConfig(options.listen), this.schema),
      application_name: `${appName}:listen`,
    };
    this.pump = new EventPump({
      readLog: (epoch, after, upTo) => this.readLog(epoch, after, upTo),
      deliver: (event) => this.deliver(event),
      onError: (error) => this.report(error),
      nodeId: this.nodeId,
    });
    this.ready = this.join().catch((error: unknown) => this.report(pgError('join', error)));
    this.heartbeat = setInterval(() => void this.tick(), this.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** What the store counted since it started (errors, LISTEN reconnects, re-asserts, retries). */
  get counters(): PostgresPresenceCounters {
    return { ...this.counts, reconnects: this.listener?.reconnects ?? 0 };
  }

  async addConnection(connection: NewPresenceConnection): Promise<void> {
    await this.open();
    const data: PresenceConnection = { ...connection, nodeId: this.nodeId };
    const previous = this.local.get(connection.connectionId);
    const groups = previous?.userId === connection.userId ? previous.groups : new Set<string>();
    this.local.delete(connection.connectionId); // an update keeps its place in the table, not here
    this.local.set(connection.connectionId, { userId: connection.userId, data, groups });
    const result = await this.call<{ ok: boolean; events: WireEvent[] }>('presence_add', [
      this.nodeId,
      this.token,
      connection.connectionId,
      connection.userId,
      JSON.stringify(data),
      this.graceMs,
    ]);
    await this.pump.ingest(result.events);
    if (!result.ok) {
      // The lease is gone (the tables emptied, a stall): re-assert everything, this connection included.
      await this.ticking;
      await this.assert();
    }
  }

  async removeConnection(connectionId: string): Promise<void> {
    if (this.closed) return;
    await this.ready;
    this.local.delete(connectionId);
    const result = await this.call<{ events: WireEvent[]; due: number }>('presence_remove', [
      this.nodeId,
      connectionId,
      this.graceMs,
    ]);
    await this.pump.ingest(result.events);
    this.scheduleDue(result.due);
  }

  async addToGroup(connectionId: string, group: string): Promise<void> {
    await this.open();
    this.local.get(connectionId)?.groups.add(group);
    await this.call('presence_group', [this.nodeId, connectionId, group, true]);
  }

  async removeFromGroup(connectionId: string, group: string): Promise<void> {
    if (this.closed) return;
    await this.ready;
    this.local.get(connectionId)?.groups.delete(group);
    await this.call('presence_group', [this.nodeId, connectionId, group, false]);
  }

  async isOnline(userId: string): Promise<boolean> {
    await this.open();
    const rows = await this.rows('SELECT 1 FROM presence_users WHERE user_id = $1', [userId]);
    return rows.length > 0;
  }

  async onlineUsers(): Promise<string[]> {
    await this.open();
    return (await this.rows('SELECT user_id FROM presence_users')).map((r) => String(r.user_id));
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    await this.open();
    const rows = await this.rows(
      'SELECT data FROM presence_connections WHERE user_id = $1 ORDER BY arrival',
      [userId],
    );
    return rows.map((r) => parseConnection(r.data));
  }

  async groupConnectionCount(group: string): Promise<number> {
    await this.open();
    const rows = await this.rows('SELECT count(*)::int AS n FROM presence_groups WHERE group_name = $1', [
      group,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    await this.open();
    const rows = await this.rows(
      `SELECT c.data FROM presence_groups g JOIN presence_connections c USING (connection_id)
       WHERE g.group_name = $1 ORDER BY c.arrival`,
      [group],
    );
    return rows.map((r) => parseConnection(r.data));
  }

  async groupUsers(group: string): Promise<string[]> {
    await this.open();
    const rows = await this.rows('SELECT DISTINCT user_id FROM presence_groups WHERE group_name = $1', [
      group,
    ]);
    return rows.map((r) => String(r.user_id));
  }

  async groupUserCount(group: string): Promise<number> {
    await this.open();
    const rows = await this.rows(
      'SELECT count(DISTINCT user_id)::int AS n FROM presence_groups WHERE group_name = $1',
      [group],
    );
    return Number(rows[0]?.n ?? 0);
  }

  subscribe(listener: PresenceListener): () => void {
    this.assertOpen();
    // A wrapper per subscription: one function subscribed twice hears everything twice.
    const subscription: PresenceListener = (event) => listener(event);
    this.listeners.add(subscription);
    return () => {
      this.listeners.delete(subscription);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.listeners.clear();
    if (this.dead) return;
    await this.ready;
    await this.ticking;
    try {
      await this.call('presence_close', [this.nodeId, this.token, this.graceMs]);
    } catch (error) {
      this.report(pgError('close', error));
    }
    this.local.clear();
    await this.listener?.close();
    await this.pool.end().catch(() => undefined);
  }

  /**
   * Stops the node as SIGKILL would, for tests: no more heartbeats, no clean-up, listeners silent,
   * its database connections closed. Its connections stay in the tables until a survivor sweeps
   * them.
   */
  destroyWithoutCleanup(): void {
    if (this.dead) return;
    this.dead = true;
    this.closed = true;
    this.stopTimers();
    this.listeners.clear();
    void this.listener?.close();
    this.pool.end().catch(() => undefined);
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Migrates the schema, starts listening and asserts the node. Rejects on failure (retried). */
  private async join(): Promise<void> {
    await migrate(this.pool, {
      schema: this.schema,
      component: 'presence',
      files: await loadSqlFiles(sqlDir('presence')),
    });
    if (!this.listener) {
      const [row] = await this.rows('SELECT presence_channel() AS channel');
      this.listener = new NotificationListener({
        config: this.listenConfig,
        channel: String(row!.channel),
        onNotification: (payload) => this.onNotification(payload),
        onRelisten: () => {
          this.logger?.info('presence.reconnected', { nodeId: this.nodeId, schema: this.schema });
          void this.tick(); // reads what was announced while the connection was down
        },
        onError: (error) => this.report(pgError('LISTEN connection', error)),
      });
      await this.listener.start();
    }
    for (const row of await this.rows('SELECT user_id FROM presence_users')) {
      this.onlineView.add(String(row.user_id));
    }
    await this.assert();
    this.joined = true;
  }

  /**
   * Asserts the lease and this node's connections. At the start, the event numbering starts from
   * the current head: a subscriber hears what happens after it subscribed.
   */
  private async assert(): Promise<void> {
    const state = {
      c: [...this.local].map(([id, c]) => [id, c.userId, c.data, [...c.groups]]),
      u: [...this.onlineView],
    };
    const result = await this.call<Head & { events: WireEvent[]; due: number }>('presence_assert', [
      this.nodeId,
      this.token,
      this.leaseMs,
      this.graceMs,
      this.leaseEpoch,
      JSON.stringify(state),
    ]);
    if (this.leaseEpoch !== '') {
      this.counts.reasserts++;
      this.logger?.warn('presence.reasserted', { nodeId: this.nodeId, connections: this.local.size });
    }
    this.leaseEpoch = result.epoch;
    this.pump.start(result.epoch, result.head - result.events.length);
    await this.pump.ingest(result.events, result);
    this.scheduleDue(result.due);
  }

  /** One heartbeat; concurrent calls share the one running. Never rejects. */
  private tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ticking ??= this.beat().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async beat(): Promise<void> {
    try {
      await this.ready;
      if (this.closed) return;
      if (!this.joined) {
        await this.join();
        return;
      }
      const result = await this.call<Head & { ok: boolean; events: WireEvent[]; due: number }>(
        'presence_heartbeat',
        [this.nodeId, this.token, this.leaseMs, this.graceMs, this.logLength],
      );
      if (result.ok) this.leaseEpoch = result.epoch;
      await this.pump.ingest(result.events, result);
      if (!result.ok && !this.closed) await this.assert();
      else this.scheduleDue(result.due);
    } catch (error) {
      this.report(pgError('heartbeat', error));
    }
  }

  /** Runs a tick when the next offline falls due, if that comes before the next heartbeat. */
  private scheduleDue(dueInMs: number): void {
    if (this.closed || dueInMs < 0 || dueInMs >= this.heartbeatIntervalMs) return;
    if (this.dueTimer) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      void this.tick();
    }, dueInMs + 1);
    this.dueTimer.unref();
  }

  private onNotification(payload: string): void {
    if (this.closed) return;
    if (payload.startsWith('ev:')) {
      const [, epoch, seq] = payload.split(':');
      if (epoch !== undefined && seq !== undefined) void this.pump.ingest([], { epoch, head: Number(seq) });
      return;
    }
    if (!payload.startsWith('ctl:')) return;
    // A change another node made to one of this node's connections.
    try {
      const [owner, kind, connectionId, group] = JSON.parse(payload.slice(4)) as [
        string,
        string,
        string,
        string | null,
      ];
      if (owner !== this.nodeId) return;
      if (kind === 'rm') this.local.delete(connectionId);
      else if (kind === 'ga' && group !== null) this.local.get(connectionId)?.groups.add(group);
      else if (kind === 'gr' && group !== null) this.local.get(connectionId)?.groups.delete(group);
    } catch (error) {
      this.report(error);
    }
  }

  private async readLog(epoch: string, after: number, upTo: number): Promise<WireEvent[] | undefined> {
    if (this.closed) return undefined; // nobody listens any more, and the pool may be ending
    const rows = await this.rows(
      `SELECT epoch AS e, seq::float8 AS s, type AS t, user_id AS u, at_ms::float8 AS a, origin AS o
       FROM presence_events WHERE epoch = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`,
      [epoch, after, upTo],
    );
    return rows as unknown as WireEvent[];
  }

  private deliver(wire: WireEvent): void {
    if (wire.t === 'userOnline') this.onlineView.add(wire.u);
    else this.onlineView.delete(wire.u);
    const event: PresenceEvent = Object.freeze({
      type: wire.t,
      userId: wire.u,
      at: wire.a,
      originNodeId: wire.o,
    });
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.onErrorHook(error, event);
      }
    }
  }

  /** Calls one of the SQL functions, retrying after a dropped connection or a deadlock. */
  private async call<T = unknown>(fn: string, args: readonly unknown[]): Promise<T> {
    const placeholders = args.map((_, i) => `$${i + 1}`).join(', ');
    const retriesBefore = this.counts.retries;
    const rows = await this.rows(`SELECT ${fn}(${placeholders}) AS r`, args);
    if (this.counts.retries !== retriesBefore) {
      // An attempt whose answer was lost may have committed and announced events; deliver them
      // before the call resolves, as if this attempt had returned them.
      const [head] = await this.rows('SELECT epoch, seq::float8 AS head FROM presence_meta WHERE id = 1');
      if (head) await this.pump.ingest([], { epoch: String(head.epoch), head: Number(head.head) });
    }
    return rows[0]!.r as T;
  }

  private async rows(sql: string, args: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query(sql, args as unknown[])).rows as Record<string, unknown>[];
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !retryable(error) || this.dead) throw error;
        this.counts.retries++;
        this.report(pgError('query (retried)', error));
        await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
      }
    }
  }

  private async open(): Promise<void> {
    this.assertOpen();
    await this.ready;
    this.assertOpen();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new SwitchboardError(
        'SB_ERR_PRESENCE_CLOSED',
        `The presence store of node '${this.nodeId}' is closed.`,
      );
    }
  }

  private stopTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.dueTimer);
    this.heartbeat = undefined;
    this.dueTimer = undefined;
  }

  private report(error: unknown): void {
    if (this.dead) return;
    this.counts.errors++;
    const code = (error as { code?: unknown }).code;
    const fields = {
      code,
      message: error instanceof Error ? error.message : String(error),
      nodeId: this.nodeId,
    };
    if (code === 'SB_ERR_BACKPLANE_PG_REPLAY_GAP') this.logger?.error('presence.error', fields);
    else this.logger?.warn('presence.error', fields);
    try {
      this.onErrorHook(error);
    } catch {
      // an onError that throws must not stop the store
    }
  }
}
