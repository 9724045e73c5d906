/**
 * The binary framing of the MessagePack hub protocol: every message is preceded by its length as a
 * little-endian base-128 varint of 1 to 5 bytes (docs/protocol.md#binary-framing).
 *
 * The low 7 bits come first and the high bit of each byte says "another byte follows". Lengths go
 * up to 2^31-1, encoded at most as `FF FF FF FF 07`, so a 5th byte above 7, or a 5th byte that
 * still has its continuation bit, announces a message over 2 GB and is rejected, as ASP.NET's
 * BinaryMessageParser does.
 * @module
 */

import { messageTooLargeError, ProtocolError } from './errors.js';

/** The longest a length prefix can be. */
export const MAX_LENGTH_PREFIX_SIZE = 5;

/** The largest payload length a prefix can announce (2^31-1). */
export const MAX_BINARY_PAYLOAD_LENGTH = 0x7fffffff;

/** A decoded length prefix. */
export interface LengthPrefix {
  /** The payload length it announces. */
  length: number;
  /** How many bytes the prefix itself takes (1 to 5). */
  prefixSize: number;
}

/** The whole messages found in a buffer by {@link parseBinaryMessages}. */
export interface BinaryMessages {
  /** Each message's payload without its prefix, as views into the input (no copy). */
  payloads: Uint8Array[];
  /** Bytes of the input used by `payloads` and their prefixes; the rest is an incomplete message. */
  consumed: number;
}

// The reference server's text and exception type (BinaryMessageParser.cs); the JS client words it
// "Messages bigger than 2GB are not supported.", but the server's wording is what a detailed Close
// of an ASP.NET server carries.
function tooBigError(): ProtocolError {
  return new ProtocolError(
    'SB_ERR_PROTOCOL_INVALID_FRAMING',
    'Messages over 2GB in size are not supported.',
    'FormatException',
  );
}

/**
 * Reads the length prefix at `offset`.
 * @returns the prefix, or null when the input ends inside it (wait for more bytes).
 * @throws ProtocolError `SB_ERR_PROTOCOL_INVALID_FRAMING` when the prefix announces more than 2 GB.
 */
export function readLengthPrefix(input: Uint8Array, offset = 0): LengthPrefix | null {
  let length = 0;
  for (let i = 0; i < MAX_LENGTH_PREFIX_SIZE; i++) {
    if (offset + i >= input.length) return null;
    const byte = input[offset + i];
    if (i === MAX_LENGTH_PREFIX_SIZE - 1 && byte > 7) throw tooBigError();
    // Multiplication instead of a shift: the 5th byte's bits reach bit 31, where `<<` would turn the
    // number negative; the 5th byte is at most 7, so the sum stays below 2^31.
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return { length, prefixSize: i + 1 };
  }
  // Unreachable: a 5th byte with its continuation bit set is above 7 and threw above.
  throw tooBigError();
}

/** How many bytes the length prefix of a `length`-byte payload takes. */
export function lengthPrefixSize(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x4000) return 2;
  if (length < 0x200000) return 3;
  if (length < 0x10000000) return 4;
  return 5;
}

/**
 * Writes the length prefix of a `length`-byte payload into `target` at `offset`.
 * @returns how many bytes were written.
 * @throws RangeError when `length` is negative, not an integer or above 2^31-1.
 */
export function writeLengthPrefix(length: number, target: Uint8Array, offset = 0): number {
  if (!Number.isInteger(length) || length < 0 || length > MAX_BINARY_PAYLOAD_LENGTH) {
    throw new RangeError(`A binary message payload must be 0 to ${MAX_BINARY_PAYLOAD_LENGTH} bytes long.`);
  }
  let remaining = length;
  let position = offset;
  while (remaining >= 0x80) {
    target[position++] = (remaining & 0x7f) | 0x80;
    remaining >>>= 7;
  }
  target[position++] = remaining;
  return position - offset;
}

/** Frames one binary message: its length prefix followed by the payload, in one new Buffer. */
export function writeBinaryMessage(payload: Uint8Array): Buffer {
  const prefixSize = lengthPrefixSize(payload.length);
  const output = Buffer.allocUnsafe(prefixSize + payload.length);
  writeLengthPrefix(payload.length, output, 0);
  output.set(payload, prefixSize);
  return output;
}

/**
 * Splits `input` into whole binary-framed messages. A zero-length payload is returned as such (the
 * framing allows it; the MessagePack codec rejects it).
 *
 * With `maxMessageSize`, a message whose prefix plus payload exceed the limit raises
 * `SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE` as soon as its prefix is read: the prefix already tells, so
 * there is no point buffering the rest (ASP.NET fails the same message once it has buffered more
 * than the limit, docs/protocol.md#message-size-limit). With `maxMessages`, stops after that many
 * messages and leaves the rest unconsumed.
 *
 * @example
 * ```ts
 * parseBinaryMessages(Uint8Array.of(0x02, 0x91, 0x06, 0x05)); // payloads: [91 06], consumed: 3
 * ```
 */
export function parseBinaryMessages(
  input: Uint8Array,
  maxMessageSize?: number,
  maxMessages = Number.POSITIVE_INFINITY,
): BinaryMessages {
  const payloads: Uint8Array[] = [];
  const consumed = forEachBinaryMessage(
    input,
    maxMessageSize,
    (start, end) => {
      payloads.push(input.subarray(start, end));
    },
    maxMessages,
  );
  return { payloads, consumed };
}

/**
 * {@link parseBinaryMessages} without the views: calls `each(start, end)` with the payload range of
 * every whole message, in order, as soon as its frame is complete, and returns the bytes consumed.
 * A frame's size is checked when its prefix is read, so an error of `each` on an earlier message
 * wins over a size error of a later one, whether the bytes arrived at once or piece by piece. With
 * `maxMessages`, stops after that many messages and leaves the rest unconsumed.
 */
export function forEachBinaryMessage(
  input: Uint8Array,
  maxMessageSize: number | undefined,
  each: (start: number, end: number) => void,
  maxMessages = Number.POSITIVE_INFINITY,
): number {
  let offset = 0;
  for (let count = 0; offset < input.length && count < maxMessages; count++) {
    const prefix = readLengthPrefix(input, offset);
    if (prefix === null) break;
    const frameSize = prefix.prefixSize + prefix.length;
    if (maxMessageSize !== undefined && frameSize > maxMessageSize) {
      throw messageTooLargeError(maxMessageSize);
    }
    if (input.length - offset < frameSize) break;
    const start = offset + prefix.prefixSize;
    each(start, start + prefix.length);
    offset += frameSize;
  }
  return offset;
}
