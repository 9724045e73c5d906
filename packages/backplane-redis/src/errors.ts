/**
 * The Redis backplane's error catalogue. Every code is listed in `docs/errors.md` (a test keeps the
 * two in sync). The backplane never throws these into a send: they reach the `onError` hook, the
 * counters, or (for a remote group change) the caller that waits for an acknowledgement.
 * @module
 */
import type { ErrorCatalogue } from '@switchboard/protocol';

/** The codes the Redis backplane raises or reports. */
export const backplaneRedisErrors = {
  SB_ERR_BACKPLANE_ACK_TIMEOUT: {
    summary:
      'A group change for a connection on another node was not acknowledged within ackTimeoutMs (the owning node is hung or gone).',
    surface:
      'addToGroup / removeFromGroup rejects with "Timed out waiting for node acknowledgement of the group change of connection \'<id>\'."',
  },
  SB_ERR_BACKPLANE_REDIS: {
    summary:
      'A Redis command or connection failed; the backplane reconnects, resubscribes and replays by itself.',
    surface:
      'Reported to the onError hook and counted (counters.errors); sends keep serving local recipients',
  },
  SB_ERR_BACKPLANE_QUEUE_OVERFLOW: {
    summary:
      'While Redis was unreachable, more sends were queued than maxQueuedPublishes allows; the oldest was dropped.',
    surface:
      'Reported to the onError hook and counted (counters.queueOverflows); remote recipients miss that send',
  },
  SB_ERR_BACKPLANE_REPLAY_GAP: {
    summary:
      "A node found a gap in a channel's log that the replay window (maxLen, maxAgeMs) no longer covers: messages were lost.",
    surface:
      'Reported to the onError hook and counted (counters.lost); delivery goes on with the next message',
  },
  SB_ERR_BACKPLANE_LOG_RESET: {
    summary:
      "After a reconnect, a channel's log no longer held the last entry the node had delivered and started anew (Redis restarted without persistence, or was flushed): messages Redis published just before and the node had not received live may be lost, and their number cannot be known.",
    surface:
      'Reported to the onError hook, logged at error level and counted (counters.logResets); delivery goes on with the new log',
  },
  SB_ERR_BACKPLANE_CLOSED: {
    summary: 'The lifetime manager was closed while a group change or a client result was waiting.',
    surface: 'The waiting promise rejects with this code',
  },
} as const satisfies ErrorCatalogue;

/** A code of the Redis backplane's catalogue. */
export type BackplaneRedisErrorCode = keyof typeof backplaneRedisErrors;

/** An error with a stable code of the Redis backplane's catalogue. */
export class BackplaneError extends Error {
  /** The stable catalogue code. */
  readonly code: BackplaneRedisErrorCode;

  constructor(code: BackplaneRedisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackplaneError';
    this.code = code;
  }
}
