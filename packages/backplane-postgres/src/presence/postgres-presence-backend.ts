/**
 * The presence operations of the PostgreSQL backplane ({@link PresenceBackend}): each one call of
 * an SQL function of sql/presence/001_presence.sql (one transaction: lease, transition, sweep,
 * event log), events announced with NOTIFY on the schema's channel, one LISTEN connection that
 * reconnects by itself, and a query pool whose calls are retried after a dropped connection or a
 * deadlock. The scale-out core (`ScaleoutPresenceStore`) does the rest.
 * @module
 */
import type { PresenceConnection } from '@switchboard/server';
import {
  type KeepConnected,
  type LeaseResult,
  type LogHead,
  type PresenceAssertion,
  type PresenceBackend,
  type PresenceBackendContext,
  type PresenceLogEvent,
  presenceAssertionJson,
  remoteChangeOf,
  reportPresenceError,
  retryCall,
  type TransitionResult,
} from '@switchboard/server/scaleout';
import pg from 'pg';
import { migrateComponents } from '../migrations.js';
import { listen } from '../notification-listener.js';
import { isConnectionError } from '../postgres-bus.js';

/** How many times a call is tried (again only after a dropped connection, a deadlock…). */
const MAX_ATTEMPTS = 4;

/** The settings of a node's presence backend, from the store's options. */
export interface PostgresPresenceSettings {
  /** The query pool's settings (search_path set to the schema, `application_name` included). */
  readonly pool: pg.PoolConfig;
  /** The LISTEN connection's settings. */
  readonly listen: pg.ClientConfig;
  readonly schema: string;
  /** How many recent events the log table keeps for nodes catching up. */
  readonly eventLogLength: number;
}

type Row = Record<string, unknown>;
/** What the SQL functions answer (each its part of it). */
type Answer = LogHead & { ok: boolean; events: PresenceLogEvent[]; due: number };

/** A node's presence on PostgreSQL: the SQL functions, the LISTEN connection, the retries. */
export class PostgresPresenceBackend implements PresenceBackend {
  readonly backend = 'postgres';
  /** Calls retried after a dropped connection or a deadlock. */
  retries = 0;
  private readonly pool: pg.Pool;
  private listener: KeepConnected<pg.Client> | undefined;
  private closed = false;

  constructor(
    private readonly settings: PostgresPresenceSettings,
    private readonly context: PresenceBackendContext,
  ) {
    this.pool = new pg.Pool(settings.pool);
    // An idle connection that drops (terminated, the server restarted) is replaced by the pool.
    this.pool.on('error', (error: unknown) => this.report('idle connection', error));
  }

  /** Migrates the schema and starts listening (the core calls it again after a failure). */
  async start(): Promise<void> {
    await migrateComponents(this.pool, this.settings.schema, 'presence');
    if (this.listener || this.closed) return;
    const [row] = await this.rows('SELECT presence_channel() AS channel');
    this.listener = listen({
      config: this.settings.listen,
      channel: String(row!.channel),
      onNotification: (payload) => this.onNotification(payload),
      // The core reads what was announced meanwhile.
      onUp: (reconnect) => reconnect && this.context.receiver.reconnected(),
      onError: (error) => this.report('LISTEN connection', error),
    });
    await this.listener.start();
  }

  async assert(state: PresenceAssertion): Promise<LeaseResult> {
    const { nodeId, token, leaseMs, graceMs } = this.context;
    const wire = presenceAssertionJson(state);
    const r = await this.call('presence_assert', nodeId, token, leaseMs, graceMs, state.leaseEpoch, wire);
    return { leaseHeld: true, epoch: r.epoch, head: r.head, events: r.events, dueInMs: r.due };
  }

  async heartbeat(): Promise<LeaseResult> {
    const { nodeId, token, leaseMs, graceMs } = this.context;
    const r = await this.call(
      'presence_heartbeat',
      nodeId,
      token,
      leaseMs,
      graceMs,
      this.settings.eventLogLength,
    );
    return { leaseHeld: r.ok, epoch: r.epoch, head: r.head, events: r.events, dueInMs: r.due };
  }

  async add(x: PresenceConnection): Promise<Omit<LeaseResult, keyof LogHead>> {
    const { nodeId, token, graceMs } = this.context;
    const r = await this.call(
      'presence_add',
      nodeId,
      token,
      x.connectionId,
      x.userId,
      JSON.stringify(x),
      graceMs,
    );
    return { leaseHeld: r.ok, events: r.events, dueInMs: -1 };
  }

  async remove(connectionId: string): Promise<TransitionResult> {
    const r = await this.call('presence_remove', this.context.nodeId, connectionId, this.context.graceMs);
    return { events: r.events, dueInMs: r.due };
  }

  async group(connectionId: string, group: string, member: boolean): Promise<void> {
    await this.call('presence_group', this.context.nodeId, connectionId, group, member);
  }

  async leave(): Promise<TransitionResult> {
    await this.call('presence_close', this.context.nodeId, this.context.token, this.context.graceMs);
    return { events: [], dueInMs: -1 };
  }

  async readEvents(epoch: string, after: number, upTo: number): Promise<readonly PresenceLogEvent[]> {
    if (this.closed) return []; // nobody listens any more, and the pool may be ending
    const rows = await this.rows(
      `SELECT epoch AS e, seq::float8 AS s, type AS t, user_id AS u, at_ms::float8 AS a, origin AS o
       FROM presence_events WHERE epoch = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`,
      [epoch, after, upTo],
    );
    return rows as unknown as PresenceLogEvent[];
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM presence_users WHERE user_id = $1', [userId])).length > 0;
  }

  async onlineUsers(): Promise<string[]> {
    return (await this.rows('SELECT user_id AS v FROM presence_users')).map((r) => String(r.v));
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    const sql = 'SELECT data AS v FROM presence_connections WHERE user_id = $1 ORDER BY arrival';
    return (await this.rows(sql, [userId])).map((r) => r.v as PresenceConnection);
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    const sql = `SELECT c.data AS v FROM presence_groups g JOIN presence_connections c USING (connection_id)
       WHERE g.group_name = $1 ORDER BY c.arrival`;
    return (await this.rows(sql, [group])).map((r) => r.v as PresenceConnection);
  }

  async groupUsers(group: string): Promise<string[]> {
    const sql = 'SELECT DISTINCT user_id AS v FROM presence_groups WHERE group_name = $1';
    return (await this.rows(sql, [group])).map((r) => String(r.v));
  }

  groupConnectionCount(group: string): Promise<number> {
    return this.count('count(*)', group);
  }

  groupUserCount(group: string): Promise<number> {
    return this.count('count(DISTINCT user_id)', group);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.close();
    await this.pool.end().catch(() => undefined);
  }

  // ---- internals -------------------------------------------------------------------------------

  private onNotification(payload: string): void {
    if (this.closed) return;
    const receiver = this.context.receiver;
    if (payload.startsWith('ev:')) {
      // `ev:<epoch>:<number>`: the event is read from the log (the core reads any gap before it).
      const [, epoch, seq] = payload.split(':');
      if (epoch === undefined || seq === undefined) return;
      this.readEvents(epoch, Number(seq) - 1, Number(seq)).then(
        (events) => receiver.events(events),
        (error: unknown) => this.report('reading an announced event', error),
      );
      return;
    }
    if (!payload.startsWith('ctl:')) return;
    // A change another node made to one of this node's connections.
    try {
      const [owner, kind, connectionId, group] = JSON.parse(payload.slice(4)) as unknown[];
      const change = owner === this.context.nodeId ? remoteChangeOf(kind, connectionId, group) : undefined;
      if (change) receiver.remoteChange(change);
    } catch (error) {
      this.report('a change notification', error);
    }
  }

  /**
   * Calls one of the SQL functions, retrying after a dropped connection or a deadlock. When an
   * attempt whose answer was lost may have committed and announced events, the log's last event
   * is added to the result: the core then reads and delivers what it missed before the call
   * resolves, as if this attempt had returned it.
   */
  private async call(fn: string, ...args: unknown[]): Promise<Answer> {
    const placeholders = args.map((_, i) => `$${i + 1}`).join(', ');
    const retriesBefore = this.retries;
    const rows = await this.rows(`SELECT ${fn}(${placeholders}) AS r`, args);
    const result = rows[0]!.r as Answer;
    const events = result?.events;
    if (this.retries !== retriesBefore && Array.isArray(events)) {
      const last = await this.rows(
        `SELECT e.epoch AS e, e.seq::float8 AS s, e.type AS t, e.user_id AS u, e.at_ms::float8 AS a, e.origin AS o
         FROM presence_events e JOIN presence_meta m ON m.id = 1 AND e.epoch = m.epoch AND e.seq = m.seq`,
      );
      events.push(...(last as unknown as PresenceLogEvent[]));
    }
    return result;
  }

  private async count(what: string, group: string): Promise<number> {
    const rows = await this.rows(`SELECT ${what}::int AS n FROM presence_groups WHERE group_name = $1`, [
      group,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  private rows(sql: string, args: readonly unknown[] = []): Promise<Row[]> {
    return retryCall(async () => (await this.pool.query(sql, args as unknown[])).rows as Row[], {
      attempts: MAX_ATTEMPTS,
      retryable: (error) => isConnectionError(error) && !this.closed,
      onRetry: (error) => {
        this.retries++;
        this.report('query (retried)', error);
      },
    });
  }

  private report(what: string, cause: unknown): void {
    if (!this.closed) reportPresenceError(this.context, this.backend, what, cause);
  }
}
