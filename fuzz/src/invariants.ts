/**
 * The checks the fuzz targets share: only catalogued errors escape, and two values are the same
 * message.
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import { ProtocolError, protocolErrors } from '@switchboard/protocol';

/** An invariant broke: the fuzzer reports the input. */
export class InvariantError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvariantError';
  }
}

/** Throws an {@link InvariantError} with `message` unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}

/** Whether `error` is a protocol error whose code is in the protocol package's catalogue. */
export function isCatalogued(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError && Object.hasOwn(protocolErrors, error.code);
}

/**
 * Runs `fn`: its value, or the catalogued {@link ProtocolError} it threw. Any other error breaks
 * the invariant "never throws anything but the catalogue's errors".
 */
export function catalogued<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: ProtocolError } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (isCatalogued(error)) return { ok: false, error };
    throw new InvariantError(`threw an error outside the catalogue: ${String(error)}`, { cause: error });
  }
}

/** Deep equality of decoded values, with -0 equal to 0 (JSON writes -0 as 0, as the clients do). */
export function sameValue(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

function normalize(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}

/** A short JSON-ish rendering for failure messages. */
export function show(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) =>
      v instanceof Uint8Array ? `<bin ${Buffer.from(v).toString('hex')}>` : v,
    ).slice(0, 400);
  } catch {
    return String(value);
  }
}
