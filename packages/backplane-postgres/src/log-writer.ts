/**
 * The single writer of a {@link PostgresBus}: the core's ordered {@link BatchWriter} over one
 * `bus_publish` call per batch of rows (sends and route changes).
 * @module
 */
import { type BackplaneErrorCodeOnly, BatchWriter, type BusCounters } from '@switchboard/server/scaleout';
import type pg from 'pg';
import { quoteIdent } from './migrations.js';
import type { PostgresBusSettings } from './postgres-bus.js';

/** A row to write: a send to `target`, or a route change (`+c:` / `-c:`). */
export interface LogRow {
  readonly target: string;
  readonly payload: Uint8Array;
}

/** What a {@link logWriter} writes with. */
export interface LogWriterOptions {
  readonly pool: pg.Pool;
  readonly settings: PostgresBusSettings;
  readonly hub: string;
  readonly nodeId: string;
  /** The bus's counters (published, queued, queueOverflows). */
  readonly counters: BusCounters;
  readonly report: (code: BackplaneErrorCodeOnly, what: string, cause?: unknown) => void;
}

/**
 * The writer of a bus's rows. An item resolves with 1 once written, 2 once written to the inbox
 * of a `c:` target's node whose lease ran out, 0 when a `c:` target has no holder, undefined when
 * dropped or refused (reported).
 */
export function logWriter(o: LogWriterOptions): BatchWriter<LogRow> {
  const text = `SELECT ${quoteIdent(o.settings.schema)}.bus_publish($1, $2, $3, $4::text[], $5::text[], $6::bytea[]) AS w`;
  return new BatchWriter<LogRow>({
    maxQueued: o.settings.maxQueuedPublishes,
    write: async (batch) => {
      const result = await o.pool.query<{ w: number[] }>({
        // Prepared once per pooled connection: a write spends no time parsing.
        name: `sb_publish_${o.settings.schema}`,
        text,
        values: [
          o.settings.notifyChannel,
          o.hub,
          o.nodeId,
          batch.map((row) => row.target),
          // Exclusions travel in the envelope (the core applies them).
          batch.map(() => ''),
          batch.map((row) => row.payload),
        ],
      });
      return result.rows[0]!.w;
    },
    unreachable: isConnectionError,
    isPublish: (row, written) => written !== undefined && written >= 1 && !/^[+-]/.test(row.target),
    describe: (row) => `a send to ${row.target}`,
    report: o.report,
    counters: o.counters,
  });
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
