/**
 * The PostgreSQL backplane's error catalogue. Every code is listed in `docs/errors.md` (a test
 * keeps the two in sync). The backplane never throws these into a send: they reach the `onError`
 * hook, the counters, or (for a remote group change, a client result or a migration) the caller
 * that waits.
 * @module
 */
import type { ErrorCatalogue } from '@switchboard/protocol';

/** The codes the PostgreSQL backplane raises or reports. */
export const backplanePostgresErrors = {
  SB_ERR_BACKPLANE_PG_ACK_TIMEOUT: {
    summary:
      'A group change for a connection on another node was not acknowledged within ackTimeoutMs (the owning node is hung or gone).',
    surface:
      'addToGroup / removeFromGroup rejects with "Timed out waiting for node acknowledgement of the group change of connection \'<id>\'."',
  },
  SB_ERR_BACKPLANE_PG: {
    summary:
      'A PostgreSQL query or connection failed (including a LISTEN connection that was terminated); the backplane reconnects, listens again and replays by itself.',
    surface:
      'Reported to the onError hook, logged as backplane.error and counted (counters.errors); sends keep serving local recipients',
  },
  SB_ERR_BACKPLANE_PG_QUEUE_OVERFLOW: {
    summary:
      'While PostgreSQL was unreachable, more sends were queued than maxQueuedPublishes allows; the oldest was dropped.',
    surface:
      'Reported to the onError hook and counted (counters.queueOverflows); remote recipients miss that send',
  },
  SB_ERR_BACKPLANE_PG_REPLAY_GAP: {
    summary:
      'A node came back to find that rows it had not read yet were already deleted from the messages table (older than maxAgeMs or beyond maxRows): messages were lost.',
    surface:
      'Reported to the onError hook and counted (counters.lost); delivery goes on with the oldest row still kept',
  },
  SB_ERR_BACKPLANE_PG_CLOSED: {
    summary: 'The lifetime manager was closed while a group change or a client result was waiting.',
    surface: 'The waiting promise rejects with this code',
  },
  SB_ERR_BACKPLANE_PG_MIGRATION: {
    summary:
      'A migration file could not be read or applied (a badly named .sql file, a duplicate version, or an SQL error); nothing of that run is kept.',
    surface: 'migrate() / loadSqlFiles() rejects with this code and the file name; the node does not start',
  },
} as const satisfies ErrorCatalogue;

/** A code of the PostgreSQL backplane's catalogue. */
export type BackplanePostgresErrorCode = keyof typeof backplanePostgresErrors;

/** An error with a stable code of the PostgreSQL backplane's catalogue. */
export class PostgresBackplaneError extends Error {
  /** The stable catalogue code. */
  readonly code: BackplanePostgresErrorCode;

  constructor(code: BackplanePostgresErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostgresBackplaneError';
    this.code = code;
  }
}
