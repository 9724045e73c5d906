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
