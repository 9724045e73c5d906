/**
 * The backplane error catalogue: one list for every backend (Redis, PostgreSQL, NATS …). The code
 * says what went wrong; the message names the backend (`Redis: …`, `PostgreSQL: …`). Every code
 * is in `docs/errors.md` (a test keeps the two in sync). The core never throws these into a send:
 * they reach the `onError` hook, the logger and the counters, or (a remote group change, a client
 * result) the caller that waits.
 * @module
 */
import type { ErrorCatalogue } from '@switchboard/protocol';

/** The codes every backplane raises or reports, and the warnings its presence store emits. */
export const backplaneErrors = {
  SB_ERR_BACKPLANE_ACK_TIMEOUT: {
    summary:
      'A group change for a connection on another node was not acknowledged within ackTimeoutMs (the owning node is hung or gone).',
    surface:
      'addToGroup / removeFromGroup rejects with "Timed out waiting for node acknowledgement of the group change of connection \'<id>\'."',
    severity: 'error',
  },
  SB_ERR_BACKPLANE_UNAVAILABLE: {
    summary:
      'A command or connection of the backend failed (the message names the backend: Redis, PostgreSQL, NATS); the backplane reconnects, resubscribes and replays by itself.',
    surface:
      'Reported to the onError hook, logged as backplane.error (warn) and counted (counters.errors); sends keep serving local recipients',
    severity: 'warning',
  },
  SB_ERR_BACKPLANE_QUEUE_OVERFLOW: {
    summary:
      'While the backend was unreachable, more sends were queued than maxQueuedPublishes allows; the oldest was dropped.',
    surface:
      'Reported to the onError hook, logged at error level and counted (counters.queueOverflows); remote recipients miss that send',
    severity: 'error',
  },
  SB_ERR_BACKPLANE_REPLAY_GAP: {
    summary:
      "A node found a gap in a channel's replay log (or the presence event log) that the replay window no longer covers: messages were lost.",
    surface:
      'Reported to the onError hook, logged at error level and counted (counters.lost); delivery goes on with the next message',
    severity: 'error',
  },
  SB_ERR_BACKPLANE_LOG_RESET: {
    summary:
      "After a reconnect, a channel's log no longer held the last entry the node had delivered and started anew (the backend restarted without persistence, or was flushed): messages published just before and not received live may be lost, and their number cannot be known.",
    surface:
      'Reported to the onError hook, logged at error level and counted (counters.logResets); delivery goes on with the new log',
    severity: 'error',
  },
  SB_ERR_BACKPLANE_CLOSED: {
    summary: 'The backplane was closed while a group change or a client result was waiting.',
    surface: 'The waiting promise rejects with this code',
    severity: 'error',
  },
  SB_ERR_BACKPLANE_ENVELOPE_VERSION: {
    summary:
      'A node received an envelope of a version it does not understand (a newer or older node on the same prefix), or bytes that are not an envelope; it was not delivered.',
    surface:
      'Reported to the onError hook, logged at error level and counted (counters.unknownVersions); the message is dropped, never delivered',
    severity: 'error',
  },
  SB_ERR_BACKPLANE_MIGRATION: {
    summary:
      "The backend's schema could not be prepared (a badly named migration file, a duplicate version, or an error of the backend); nothing of that run is kept.",
    surface: 'ready() / migrate() rejects with this code and the file name; the node does not start',
    severity: 'error',
  },
  SB_PRESENCE_LISTENER_FAILED: {
    summary: 'A presence listener (subscribe) threw; the other listeners still got the event.',
    surface: 'A process warning with this code, unless the store was given an onError hook',
    severity: 'warning',
  },
  SB_PRESENCE_REDIS: {
    summary:
      'The Redis presence store hit a fault with no caller to reject (a heartbeat, the event subscription, a listener that threw); it retries by itself.',
    surface: 'A process warning with this code, unless the store was given an onError hook',
    severity: 'warning',
  },
  SB_PRESENCE_POSTGRES: {
    summary:
      'The PostgreSQL presence store hit a fault with no caller to reject (a heartbeat, the LISTEN connection, a listener that threw); it retries by itself.',
    surface: 'A process warning with this code, unless the store was given an onError hook',
    severity: 'warning',
  },
} as const satisfies ErrorCatalogue;

/** A code of {@link backplaneErrors}. */
export type BackplaneErrorCode = keyof typeof backplaneErrors;

/**
 * The codes of {@link backplaneErrors} that a backplane reports as an error (all but the
 * `SB_PRESENCE_*` warnings, which are process-warning codes).
 */
export type BackplaneErrorCodeOnly = Extract<BackplaneErrorCode, `SB_ERR_${string}`>;

/** An error of a backplane, with a stable code; `backend` names the backend that raised it. */
export class BackplaneError extends Error {
  /** The stable catalogue code. */
  readonly code: BackplaneErrorCodeOnly;
  /** The backend (`redis`, `postgres`, `nats`, `loopback`), also named in the message. */
  readonly backend: string | undefined;

  /**
   * @param code - the catalogue code.
   * @param message - what happened; a backend starts it with its own name (`Redis: …`).
   * @param options - the cause, and the backend's name.
   */
  constructor(
    code: BackplaneErrorCodeOnly,
    message: string,
    options: { cause?: unknown; backend?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackplaneError';
    this.code = code;
    this.backend = options.backend;
  }

  /** Whether the error means messages were (or may have been) lost: logged at error level. */
  get lossy(): boolean {
    return (
      this.code === 'SB_ERR_BACKPLANE_REPLAY_GAP' ||
      this.code === 'SB_ERR_BACKPLANE_QUEUE_OVERFLOW' ||
      this.code === 'SB_ERR_BACKPLANE_LOG_RESET' ||
      this.code === 'SB_ERR_BACKPLANE_ENVELOPE_VERSION'
    );
  }
}
