// Shared test helpers: byte fixtures written as hex or text, and error assertions.
import assert from 'node:assert/strict';
import { ProtocolError, type ProtocolErrorCode } from '@switchboard/protocol';

/** Bytes from a hex string; spaces are ignored (`'02 91 06'`). */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Hex of some bytes, spaced per byte, for readable assertion failures. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

/** A JSON text framed with 0x1E. */
export function frameText(...texts: string[]): Buffer {
  return Buffer.from(texts.map((t) => `${t}\u001e`).join(''), 'utf8');
}

/** A MessagePack body framed with its varint length prefix (bodies in tests stay under 128 bytes). */
export function frameBinary(body: Uint8Array): Buffer {
  assert.ok(body.length < 0x80, 'test bodies must be shorter than 128 bytes');
  return Buffer.concat([Uint8Array.of(body.length), body]);
}

/** Asserts that `fn` throws a ProtocolError with exactly this code and message. */
export function assertProtocolError(
  fn: () => unknown,
  code: ProtocolErrorCode,
  message: string,
  exceptionType?: string,
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
    assert.equal(error.message, message);
    assert.equal(error.code, code);
    if (exceptionType !== undefined) assert.equal(error.exceptionType, exceptionType);
    return true;
  });
}

/**
 * The fields both sides agree on, for comparison. The clients express "no value" in their own ways
 * (`streamIds: []`, `error: null`, `allowReconnect: false`, `headers: {}`) and `hasResult` by the
 * presence of `result`; those are normalized away.
 */
export function comparable(message: object): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    if (value === undefined || key === 'hasResult') continue;
    if (key === 'headers' && Object.keys(value as object).length === 0) continue;
    if (key === 'streamIds' && Array.isArray(value) && value.length === 0) continue;
    if (key === 'error' && value === null) continue;
    if (key === 'allowReconnect' && value === false) continue;
    result[key] = value;
  }
  if ('hasResult' in message && message.hasResult === true && !('result' in result)) result.result = null;
  return result;
}

/** A copy of `bytes` as an ArrayBuffer, the input the official MessagePack client parses. */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
