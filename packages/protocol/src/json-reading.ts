/**
 * Internal helpers shared by the handshake and the JSON hub protocol: turning a framed payload into
 * a JSON object, with the reference implementation's error texts (SystemTextJsonExtensions.cs).
 * Not exported from the package entry.
 * @module
 */

import { isUtf8 } from 'node:buffer';
import { ProtocolError, type ProtocolErrorCode } from './errors.js';

/** A parsed JSON object: what every handshake and hub message must be at the top level. */
export type JsonObject = Record<string, unknown>;

/** Decodes UTF-8 without copying when the input already is a Buffer. */
function utf8Text(payload: Uint8Array): string {
  const buffer = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return buffer.toString('utf8');
}

/**
 * The token name .NET's Utf8JsonReader reports for a JSON value, as the reference puts it in
 * "Unexpected JSON Token Type '<name>'. Expected a JSON Object." (GetTokenString maps StartArray to
 * "Array"; the other names are JsonTokenType members).
 */
export function jsonTokenName(value: unknown): string {
  if (value === null) return 'Null';
  if (Array.isArray(value)) return 'Array';
  switch (typeof value) {
    case 'string':
      return 'String';
    case 'number':
      return 'Number';
    case 'boolean':
      return value ? 'True' : 'False';
    default:
      return 'Object';
  }
}

/**
 * Parses one framed JSON payload that must be an object.
 *
 * Invalid UTF-8 and invalid JSON both give "Error reading JSON." (JsonHubProtocol.cs wraps every
 * JsonException in that text; System.Text.Json rejects invalid UTF-8, where Node would silently
 * substitute U+FFFD, so we check first). A top-level value that is not an object gives the
 * reference's "Unexpected JSON Token Type ..." text.
 *
 * @returns the object and the decoded text (the handshake quotes the text in its errors).
 */
export function parseJsonObject(
  payload: Uint8Array,
  code: ProtocolErrorCode,
): { object: JsonObject; text: string } {
  if (!isUtf8(payload)) throw new ProtocolError(code, 'Error reading JSON.');
  const text = utf8Text(payload);
  return { object: parseJsonText(text, code), text };
}

/**
 * {@link parseJsonObject} for text already decoded from bytes known to be valid UTF-8: the same
 * errors for invalid JSON and for a top-level value that is not an object.
 */
export function parseJsonText(text: string, code: ProtocolErrorCode): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(code, 'Error reading JSON.', 'InvalidDataException', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(
      code,
      `Unexpected JSON Token Type '${jsonTokenName(value)}'. Expected a JSON Object.`,
    );
  }
  return value as JsonObject;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Reads an optional Int32 property the way the reference's ReadAsInt32 does: null counts as absent,
 * a non-number is "Expected '<name>' to be of type Number.", and a number that is not an Int32
 * fails like .NET's GetInt32 (a FormatException).
 */
export function readInt32(value: unknown, name: string, code: ProtocolErrorCode): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number') {
    throw new ProtocolError(code, `Expected '${name}' to be of type Number.`);
  }
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new ProtocolError(
      code,
      'Either the JSON value is not in a supported format, or is out of bounds for an Int32.',
      'FormatException',
    );
  }
  return value;
}

/**
 * Reads an optional Int64 property like the reference's ReadAsInt64. JavaScript numbers are exact
 * only up to 2^53-1, so larger values are refused rather than silently rounded.
 */
export function readInt64(value: unknown, name: string, code: ProtocolErrorCode): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number') {
    throw new ProtocolError(code, `Expected '${name}' to be of type Number.`);
  }
  if (!Number.isSafeInteger(value)) {
    throw new ProtocolError(
      code,
      'Either the JSON value is not in a supported format, or is out of bounds for an Int64.',
      'FormatException',
    );
  }
  return value;
}

/** Reads a property that must be a string when present (ReadAsString: null is a type error too). */
export function readString(value: unknown, name: string, code: ProtocolErrorCode): string {
  if (typeof value !== 'string') {
    throw new ProtocolError(code, `Expected '${name}' to be of type String.`);
  }
  return value;
}
