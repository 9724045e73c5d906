/**
 * The text framing of the JSON hub protocol and of the handshake: every message is followed by the
 * ASCII record separator 0x1E (docs/protocol.md#handshake-request, docs/protocol.md#text-framing).
 *
 * JSON serializers escape U+001E inside strings (`\u001e`), so a raw 0x1E byte can only be a
 * boundary, never part of a message; finding boundaries is a plain byte search.
 * @module
 */

import { messageTooLargeError } from './errors.js';

/** The record separator byte that ends every text-framed message. */
export const RECORD_SEPARATOR = 0x1e;

/** The record separator as a one-character string, for building text frames. */
export const RECORD_SEPARATOR_CHAR = '\u001e';

/** The whole messages found in a buffer by {@link parseTextMessages}. */
export interface TextMessages {
  /** Each message's bytes without its separator, as views into the input (no copy). */
  payloads: Uint8Array[];
  /** Bytes of the input used by `payloads` and their separators; the rest is an incomplete message. */
  consumed: number;
}

/**
 * Finds the next record separator in `input` at or after `start`.
 * @returns its index, or -1 when the bytes from `start` hold no complete message yet.
 */
export function findRecordSeparator(input: Uint8Array, start = 0): number {
  return input.indexOf(RECORD_SEPARATOR, start);
}

/**
 * Splits `input` into whole text-framed messages.
 *
 * With `maxMessageSize`, a message whose bytes plus its separator exceed the limit, or more than
 * `maxMessageSize` buffered bytes with no separator among them, raise
 * `SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE`. This mirrors ASP.NET's HubConnectionHandler, which hands the
 * parser at most `MaximumReceiveMessageSize` bytes and fails when no message fits in that window
 * (docs/protocol.md#message-size-limit); a tail of exactly `maxMessageSize` bytes may still complete.
 *
 * An empty message (two separators in a row) is returned as an empty payload: rejecting it is the
 * codec's job, since the handshake and the hub protocol word that error differently.
 *
 * @example
 * ```ts
 * const { payloads, consumed } = parseTextMessages(Buffer.from('{"type":6}\x1e{"ty'));
 * // payloads: [bytes of '{"type":6}'], consumed: 11
 * ```
 */
export function parseTextMessages(input: Uint8Array, maxMessageSize?: number): TextMessages {
  const payloads: Uint8Array[] = [];
  const consumed = forEachTextMessage(input, maxMessageSize, (start, end) => {
    payloads.push(input.subarray(start, end));
  });
  return { payloads, consumed };
}

/**
 * {@link parseTextMessages} without the views: calls `each(start, end)` with the byte range of every
 * whole message (separator excluded), in order, and returns the bytes consumed. Same size rules.
 * With `maxMessages`, stops after that many messages and leaves the rest unconsumed.
 */
export function forEachTextMessage(
  input: Uint8Array,
  maxMessageSize: number | undefined,
  each: (start: number, end: number) => void,
  maxMessages = Number.POSITIVE_INFINITY,
): number {
  let offset = 0;
  for (let count = 0; count < maxMessages; count++) {
    const separator = input.indexOf(RECORD_SEPARATOR, offset);
    if (separator === -1) {
      if (maxMessageSize !== undefined && input.length - offset > maxMessageSize) {
        throw messageTooLargeError(maxMessageSize);
      }
      return offset;
    }
    if (maxMessageSize !== undefined && separator + 1 - offset > maxMessageSize) {
      throw messageTooLargeError(maxMessageSize);
    }
    each(offset, separator);
    offset = separator + 1;
  }
  return offset;
}

/**
 * Frames one text message: its UTF-8 bytes followed by 0x1E. Strings are encoded as UTF-8; the
 * caller guarantees the text holds no raw U+001E (JSON.stringify escapes it).
 */
export function writeTextMessage(payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload + RECORD_SEPARATOR_CHAR, 'utf8');
  const output = Buffer.allocUnsafe(payload.length + 1);
  output.set(payload, 0);
  output[payload.length] = RECORD_SEPARATOR;
  return output;
}
