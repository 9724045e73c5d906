/**
 * The handshake: the client's first message names the hub protocol and version, the server answers
 * `{}` or `{"error":"..."}`. Both are JSON ending in 0x1E whatever the hub protocol
 * (docs/protocol.md#handshake; the reference is HandshakeProtocol.cs).
 * @module
 */

import { ProtocolError } from './errors.js';
import { parseJsonObject, readInt32, readString } from './json-reading.js';
import { findRecordSeparator, writeTextMessage } from './text-message-format.js';

/**
 * What the client asks for. `protocol` is compared case-insensitively by the server
 * (docs/protocol.md#handshake-request).
 */
export interface HandshakeRequest {
  /** The hub protocol name, such as `json` or `messagepack`, as sent. */
  protocol: string;
  /** The protocol version (1 normally, 2 when stateful reconnect was negotiated). */
  version: number;
}

/** What the server answers: no `error` means success. */
export interface HandshakeResponse {
  /** Why the server refused the connection, when it did. */
  error?: string;
}

/** A handshake message found at the start of a buffer, and how many bytes it used. */
export interface ParsedHandshake<T> {
  /** The parsed message. */
  request: T;
  /** Bytes used by the message and its separator; hub messages may follow in the same buffer. */
  consumed: number;
}

/** A handshake response found at the start of a buffer, and how many bytes it used. */
export interface ParsedHandshakeResponse {
  /** The parsed response. */
  response: HandshakeResponse;
  /** Bytes used by the response and its separator; hub messages may follow in the same buffer. */
  consumed: number;
}

const CODE = 'SB_ERR_PROTOCOL_INVALID_HANDSHAKE';

/**
 * Finds the end of the handshake message, enforcing the size limit: the handshake counts toward
 * the maximum message size, and ASP.NET gives up when no 0x1E appears in the first
 * `MaximumReceiveMessageSize` bytes (docs/protocol.md#handshake-request).
 */
function findHandshakeEnd(input: Uint8Array, maxSize: number | undefined): number {
  const separator = findRecordSeparator(input);
  const tooLarge =
    maxSize !== undefined && (separator === -1 ? input.length > maxSize : separator + 1 > maxSize);
  if (tooLarge) {
    // The text the reference logs for this case; the server answers "Handshake was canceled.".
    throw new ProtocolError(
      'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
      `The maximum message size of ${maxSize}B was exceeded while parsing the Handshake. The message size can be configured in AddHubOptions.`,
    );
  }
  return separator;
}

/**
 * Parses the client's handshake request at the start of `input`.
 *
 * Unknown properties are skipped; a repeated property keeps its last value, like the reference.
 * Errors carry the reference's texts, including its " Message content: ..." suffix on a missing
 * property; the server prefixes "An unexpected error occurred during connection handshake." itself
 * (docs/protocol.md#handshake-errors).
 *
 * @param input - the bytes received so far.
 * @param maxSize - the maximum receive message size; no limit when omitted.
 * @returns the request and the bytes it used, or null when no 0x1E has arrived yet.
 * @throws ProtocolError `SB_ERR_PROTOCOL_INVALID_HANDSHAKE` for a malformed request, or
 * `SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE` when no separator appears within `maxSize` bytes.
 *
 * @example
 * ```ts
 * const parsed = parseHandshakeRequest(Buffer.from('{"protocol":"json","version":1}\x1e'));
 * // { request: { protocol: 'json', version: 1 }, consumed: 32 }
 * ```
 */
export function parseHandshakeRequest(
  input: Uint8Array,
  maxSize?: number,
): ParsedHandshake<HandshakeRequest> | null {
  const separator = findHandshakeEnd(input, maxSize);
  if (separator === -1) return null;
  const { object, text } = parseJsonObject(input.subarray(0, separator), CODE);

  let protocol: string | undefined;
  let version: number | undefined;
  // Property order matters for which error wins, as the reference reads properties in order.
  for (const key of Object.keys(object)) {
    if (key === 'protocol') protocol = readString(object[key], 'protocol', CODE);
    else if (key === 'version') version = readInt32(object[key], 'version', CODE);
  }
  if (protocol === undefined) {
    throw new ProtocolError(CODE, `Missing required property 'protocol'. Message content: ${text}`);
  }
  if (version === undefined) {
    throw new ProtocolError(CODE, `Missing required property 'version'. Message content: ${text}`);
  }
  return { request: { protocol, version }, consumed: separator + 1 };
}

/**
 * Parses the server's handshake response at the start of `input` (for test clients and tools).
 * A response carrying `type` is a hub message, not a handshake response, and is rejected as the
 * clients do ("Expected a handshake response from the server.").
 * @returns the response and the bytes it used, or null when no 0x1E has arrived yet.
 * @throws ProtocolError `SB_ERR_PROTOCOL_INVALID_HANDSHAKE` for a malformed response.
 */
export function parseHandshakeResponse(input: Uint8Array): ParsedHandshakeResponse | null {
  const separator = findRecordSeparator(input);
  if (separator === -1) return null;
  const { object } = parseJsonObject(input.subarray(0, separator), CODE);
  const response: HandshakeResponse = {};
  for (const key of Object.keys(object)) {
    if (key === 'type') throw new ProtocolError(CODE, 'Expected a handshake response from the server.');
    if (key === 'error') response.error = readString(object[key], 'error', CODE);
  }
  return { response, consumed: separator + 1 };
}

// The success reply never changes (docs/protocol.md#handshake-reply); only copies of it leave this module.
const SUCCESS_RESPONSE = writeTextMessage('{}');

/**
 * Writes the server's handshake reply: `{}` + 0x1E on success, `{"error":"..."}` + 0x1E otherwise.
 * An empty error counts as success, as in the reference. The reply must reach the client in one
 * transport message (docs/protocol.md#handshake-reply); that is the transport's concern.
 */
export function writeHandshakeResponse(error?: string): Buffer {
  if (error === undefined || error === '') return Buffer.from(SUCCESS_RESPONSE);
  return writeTextMessage(`{"error":${JSON.stringify(error)}}`);
}

/** Writes a client's handshake request, `{"protocol":"json","version":1}` + 0x1E (for test clients). */
export function writeHandshakeRequest(protocol: string, version: number): Buffer {
  return writeTextMessage(`{"protocol":${JSON.stringify(protocol)},"version":${JSON.stringify(version)}}`);
}
