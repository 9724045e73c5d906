/**
 * The webhooks' tables (migration 012): endpoints, the outbox of events (written by triggers in
 * the transaction of each change) and one delivery per event and endpoint. One class over both
 * storages: the statements differ only in placeholders, booleans and PostgreSQL's row locks.
 * @module
 */
import { PostgresStorage } from '../storage/postgres-storage.js';
import { isoTime, type Row } from '../storage/sql-storage.js';
import { SqliteStorage } from '../storage/sqlite-storage.js';
import type { ChatStorage } from '../storage/storage.js';

/** A receiver of the webhooks. */
export interface WebhookEndpoint {
  /** `env` for the one of `WEBHOOK_URL`, `whep_<hex>` for those added by `add-webhook`. */
  readonly id: string;
  readonly url: string;
  /** `whsec_<base64>`. */
  readonly secret: string;
  readonly createdAt: string;
  /** When it was disabled after failing for 24 hours; null while enabled. */
  readonly disabledAt: string | null;
  /** The first failure since its last success (ms since the epoch), if failing. */
  readonly failingSinceMs: number | null;
}

/** What a delivery's status can be. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'skipped';

/** A delivery this node holds the lease of, with what it needs to send it. */
export interface ClaimedDelivery {
  readonly eventId: string;
  readonly endpointId: string;
  readonly url: string;
  readonly secret: string;
  readonly type: string;
  readonly data: string;
  readonly createdMs: number;
  readonly userId: string | null;
  readonly attempts: number;
  readonly lease: string;
}

/** One line of the delivery log. */
export interface DeliveryRecord {
  readonly eventId: string;
  readonly endpointId: string;
  readonly url: string;
  readonly type: string;
  readonly roomId: string | null;
  readonly seq: number | null;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly createdAt: string;
  readonly lastAttemptAt: string | null;
  readonly nextAttemptAt: string | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly doneAt: string | null;
}

/** Counts of deliveries by status and of disabled endpoints (cluster-wide: from the database). */
export interface WebhookStats {
  readonly delivered: number;
  readonly failed: number;
  /** Deliveries waiting to be sent (or retried), and events not fanned out to endpoints yet. */
  readonly pending: number;
  readonly skipped: number;
  readonly endpoints: number;
  readonly disabledEndpoints: number;
}

/** How an attempt ended, as the store records it. */
export type DeliveryOutcome =
  | { readonly kind: 'delivered'; readonly at: number; readonly httpStatus: number }
  | {
      readonly kind: 'retry' | 'failed';
      readonly at: number;
      readonly nextAttemptMs: number;
      readonly httpStatus: number | null;
      readonly error: string;
    }
  | { readonly kind: 'skipped'; readonly at: number; readonly reason: string }
  | { readonly kind: 'defer'; readonly nextAttemptMs: number };

/** Filters of the delivery log. */
export interface DeliveryQuery {
  readonly endpointId?: string;
  readonly status?: DeliveryStatus;
  /** Only events created before this (ms since the epoch): the next page. */
  readonly beforeMs?: number;
  readonly limit: number;
}

type Query = (sql: string, params: unknown[]) => Promise<Row[]>;

/** The webhooks' tables in the chat's storage. */
export class WebhookStore {
  private constructor(
    private readonly query: Query,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  /** The store over `storage` (a SQLite or PostgreSQL chat storage, migrated). */
  static of(storage: ChatStorage): WebhookStore {
    if (storage instanceof SqliteStorage) {
      return new WebhookStore(async (sql, params) => storage.rawAll(sql, ...params), 'sqlite');
    }
    if (storage instanceof PostgresStorage) {
      return new WebhookStore((sql, params) => storage.rawAll(toDollar(sql), ...params), 'postgres');
    }
    throw new Error(`Webhooks need a SQL storage (got ${storage.kind}).`);
  }

  private get unfanned(): string {
    return this.dialect === 'sqlite' ? 'fanned = 0' : 'NOT fanned';
  }
  private get fannedTrue(): string {
    return this.dialect === 'sqlite' ? '1' : 'true';
  }
  private inList(placeholder: string): string {
    return this.dialect === 'sqlite'
      ? `IN (SELECT value FROM json_each(${placeholder}))`
      : `= ANY(${placeholder}::text[])`;
  }
  private list(ids: readonly string[]): unknown {
    return this.dialect === 'sqlite' ? JSON.stringify(ids) : [...ids];
  }

  /** Creates the endpoint, or changes its URL and secret (enabling it again when they changed). */
  async upsertEndpoint(id: string, url: string, secret: string, createdAt: string): Promise<void> {
    await this.query(
      `INSERT INTO webhook_endpoints (id, url, secret, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
         disabled_at = CASE WHEN webhook_endpoints.url = excluded.url AND webhook_endpoints.secret = excluded.secret
           THEN webhook_endpoints.disabled_at ELSE NULL END,
         failing_since_ms = CASE WHEN webhook_endpoints.url = excluded.url AND webhook_endpoints.secret = excluded.secret
           THEN webhook_endpoints.failing_since_ms ELSE NULL END
       RETURNING id`,
      [id, url, secret, createdAt],
    );
  }

  /** Removes an endpoint and its deliveries; true when it existed. */
  async removeEndpoint(id: string): Promise<boolean> {
    await this.query('DELETE FROM webhook_deliveries WHERE endpoint_id = ? RETURNING event_id', [id]);
    return (await this.query('DELETE FROM webhook_endpoints WHERE id = ? RETURNING id', [id])).length > 0;
  }

  /** Every endpoint, oldest first. */
  async endpoints(): Promise<WebhookEndpoint[]> {
    return (await this.query('SELECT * FROM webhook_endpoints ORDER BY created_at, id', [])).map((r) => ({
      id: String(r.id),
      url: String(r.url),
      secret: String(r.secret),
      createdAt: isoTime(r.created_at),
      disabledAt: r.disabled_at == null ? null : isoTime(r.disabled_at),
      failingSinceMs: r.failing_since_ms == null ? null : Number(r.failing_since_ms),
    }));
  }

  /**
   * Makes the deliveries of up to `limit` new events, one per enabled endpoint (idempotent: run on
   * several nodes at once, each pair is made once). A `notification.offline` delivery is due
   * `graceMs` after its event. Returns how many events it fanned out.
   */
  async fanOut(limit: number, graceMs: number): Promise<number> {
    const ids = (
      await this.query(`SELECT id FROM webhook_events WHERE ${this.unfanned} ORDER BY created_ms LIMIT ?`, [
        limit,
      ])
    ).map((r) => String(r.id));
    if (ids.length === 0) return 0;
    await this.query(
      `INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_ms)
       SELECT ev.id, ep.id, CASE WHEN ev.type = 'notification.offline' THEN ev.created_ms + ? ELSE 0 END
       FROM webhook_events ev CROSS JOIN webhook_endpoints ep
       WHERE ev.id ${this.inList('?')} AND ep.disabled_at IS NULL
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [graceMs, this.list(ids)],
    );
    await this.query(
      `UPDATE webhook_events SET fanned = ${this.fannedTrue} WHERE id ${this.inList('?')} RETURNING id`,
      [this.list(ids)],
    );
    return ids.length;
  }

  /**
   * Takes the lease (`lease`, until `leaseUntilMs`) of up to `limit` deliveries that are due at
   * `nowMs` and not leased by anyone (or whose lease ran out), earliest due first. On PostgreSQL
   * the rows are locked with SKIP LOCKED while claimed: two nodes never take the same one.
   */
  async claim(lease: string, nowMs: number, leaseUntilMs: number, limit: number): Promise<ClaimedDelivery[]> {
    // A read first: an idle outbox costs no write (SQLite's write lock) and no row lock.
    const due = await this.query(
      `SELECT 1 AS due FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
       WHERE d.status = 'pending' AND ep.disabled_at IS NULL AND d.next_attempt_ms <= ?
         AND (d.lease_until_ms IS NULL OR d.lease_until_ms < ?) LIMIT 1`,
      [nowMs, nowMs],
    );
    if (due.length === 0) return [];
    const lock = this.dialect === 'postgres' ? 'FOR UPDATE OF d SKIP LOCKED' : '';
    await this.query(
      `UPDATE webhook_deliveries SET lease_owner = ?, lease_until_ms = ?
       WHERE (event_id, endpoint_id) IN (
         SELECT d.event_id, d.endpoint_id FROM webhook_deliveries d
         JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
         WHERE d.status = 'pending' AND ep.disabled_at IS NULL AND d.next_attempt_ms <= ?
           AND (d.lease_until_ms IS NULL OR d.lease_until_ms < ?)
         ORDER BY d.next_attempt_ms LIMIT ? ${lock})
       RETURNING event_id`,
      [lease, leaseUntilMs, nowMs, nowMs, limit],
    );
    const rows = await this.query(
      `SELECT d.event_id, d.endpoint_id, d.attempts, ep.url, ep.secret, ev.type, ev.data, ev.created_ms, ev.user_id
       FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
       JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
       WHERE d.lease_owner = ? AND d.status = 'pending'
       ORDER BY d.next_attempt_ms`,
      [lease],
    );
    return rows.map((r) => ({
      eventId: String(r.event_id),
      endpointId: String(r.endpoint_id),
      url: String(r.url),
      secret: String(r.secret),
      type: String(r.type),
      data: String(r.data),
      createdMs: Number(r.created_ms),
      userId: r.user_id == null ? null : String(r.user_id),
      attempts: Number(r.attempts),
      lease,
    }));
  }

  /** Records how an attempt ended (only while `lease` still holds the delivery); true if recorded. */
  async complete(delivery: ClaimedDelivery, outcome: DeliveryOutcome): Promise<boolean> {
    const key = [delivery.eventId, delivery.endpointId, delivery.lease];
    const where = 'WHERE event_id = ? AND endpoint_id = ? AND lease_owner = ? RETURNING event_id';
    let rows: Row[];
    switch (outcome.kind) {
      case 'defer':
        rows = await this.query(
          `UPDATE webhook_deliveries SET next_attempt_ms = ?, lease_owner = NULL, lease_until_ms = NULL ${where}`,
          [outcome.nextAttemptMs, ...key],
        );
        break;
      case 'skipped':
        rows = await this.query(
          `UPDATE webhook_deliveries SET status = 'skipped', last_error = ?, done_ms = ?,
             lease_owner = NULL, lease_until_ms = NULL ${where}`,
          [outcome.reason, outcome.at, ...key],
        );
        break;
      case 'delivered':
        rows = await this.query(
          `UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_ms = ?,
             last_status = ?, last_error = NULL, done_ms = ?, lease_owner = NULL, lease_until_ms = NULL ${where}`,
          [outcome.at, outcome.httpStatus, outcome.at, ...key],
        );
        break;
      default:
        rows = await this.query(
          `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_attempt_ms = ?,
             next_attempt_ms = ?, last_status = ?, last_error = ?, done_ms = ?,
             lease_owner = NULL, lease_until_ms = NULL ${where}`,
          [
            outcome.kind === 'failed' ? 'failed' : 'pending',
            outcome.at,
            outcome.nextAttemptMs,
            outcome.httpStatus,
            outcome.error.slice(0, 500),
            outcome.kind === 'failed' ? outcome.at : null,
            ...key,
          ],
        );
    }
    return rows.length > 0;
  }

  /** Clears an endpoint's failing state after a success. */
  async endpointSucceeded(endpointId: string): Promise<void> {
    await this.query(
      'UPDATE webhook_endpoints SET failing_since_ms = NULL WHERE id = ? AND failing_since_ms IS NOT NULL RETURNING id',
      [endpointId],
    );
  }

  /**
   * Records a failure of the endpoint at `nowMs`; disables it when it has been failing for
   * `disableAfterMs`. True only for the one call that disabled it.
   */
  async endpointFailed(endpointId: string, nowMs: number, disableAfterMs: number): Promise<boolean> {
    await this.query(
      'UPDATE webhook_endpoints SET failing_since_ms = COALESCE(failing_since_ms, ?) WHERE id = ? RETURNING id',
      [nowMs, endpointId],
    );
    const disabled = await this.query(
      `UPDATE webhook_endpoints SET disabled_at = ?
       WHERE id = ? AND disabled_at IS NULL AND failing_since_ms <= ? RETURNING id`,
      [new Date(nowMs).toISOString(), endpointId, nowMs - disableAfterMs],
    );
    return disabled.length > 0;
  }

  /** The delivery log, newest events first. */
  async deliveries(q: DeliveryQuery): Promise<DeliveryRecord[]> {
    const rows = await this.query(
      `SELECT d.*, ev.type, ev.room_id, ev.seq, ev.created_ms, ep.url
       FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
       JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
       WHERE (CAST(? AS TEXT) IS NULL OR d.endpoint_id = ?) AND (CAST(? AS TEXT) IS NULL OR d.status = ?)
         AND ev.created_ms < ?
       ORDER BY ev.created_ms DESC, d.event_id LIMIT ?`,
      [
        q.endpointId ?? null,
        q.endpointId ?? null,
        q.status ?? null,
        q.status ?? null,
        q.beforeMs ?? Number.MAX_SAFE_INTEGER,
        q.limit,
      ],
    );
    const iso = (v: unknown) => (v == null ? null : new Date(Number(v)).toISOString());
    return rows.map((r) => ({
      eventId: String(r.event_id),
      endpointId: String(r.endpoint_id),
      url: String(r.url),
      type: String(r.type),
      roomId: r.room_id == null ? null : String(r.room_id),
      seq: r.seq == null ? null : Number(r.seq),
      status: String(r.status) as DeliveryStatus,
      attempts: Number(r.attempts),
      createdAt: iso(r.created_ms)!,
      lastAttemptAt: iso(r.last_attempt_ms),
      nextAttemptAt: String(r.status) === 'pending' ? iso(r.next_attempt_ms) : null,
      lastStatus: r.last_status == null ? null : Number(r.last_status),
      lastError: r.last_error == null ? null : String(r.last_error),
      doneAt: iso(r.done_ms),
    }));
  }

  /** Counts by status (every node's deliveries) and endpoints. */
  async stats(): Promise<WebhookStats> {
    const counts = new Map<string, number>();
    for (const r of await this.query(
      'SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status',
      [],
    )) {
      counts.set(String(r.status), Number(r.n));
    }
    const unfanned = Number(
      (await this.query(`SELECT COUNT(*) AS n FROM webhook_events WHERE ${this.unfanned}`, []))[0]?.n ?? 0,
    );
    const ep = (
      await this.query(
        'SELECT COUNT(*) AS n, SUM(CASE WHEN disabled_at IS NULL THEN 0 ELSE 1 END) AS disabled FROM webhook_endpoints',
        [],
      )
    )[0];
    return {
      delivered: counts.get('delivered') ?? 0,
      failed: counts.get('failed') ?? 0,
      pending: (counts.get('pending') ?? 0) + unfanned,
      skipped: counts.get('skipped') ?? 0,
      endpoints: Number(ep?.n ?? 0),
      disabledEndpoints: Number(ep?.disabled ?? 0),
    };
  }

  /** Forgets events created before `beforeMs` that have no pending delivery (and their deliveries). */
  async purge(beforeMs: number): Promise<number> {
    const rows = await this.query(
      `DELETE FROM webhook_events WHERE created_ms < ? AND NOT (${this.unfanned})
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id AND d.status = 'pending')
       RETURNING id`,
      [beforeMs],
    );
    return rows.length;
  }
}

/** Rewrites `?` placeholders to PostgreSQL's `$1`, `$2` … (the statements here quote no `?`). */
function toDollar(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
