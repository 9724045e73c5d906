/**
 * Input checks shared by the HTTP APIs and the hub: each failure is a `SB_CHAT_INVALID_INPUT`
 * naming the field.
 * @module
 */
import { ChatError } from '../errors.js';

/** Any JSON object. */
export type Input = Record<string, unknown>;

/** `value` as an object, or a 400 naming `field`. */
export function object(value: unknown, field = 'body'): Input {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(field, 'must be an object');
  return value as Input;
}

/** A string field, trimmed when `trim`, with a length range and an optional pattern. */
export function string(
  input: Input,
  field: string,
  options: { min?: number; max: number; trim?: boolean; pattern?: RegExp; patternText?: string },
): string {
  const raw = input[field];
  if (typeof raw !== 'string') throw invalid(field, 'must be a string');
  const value = options.trim ? raw.trim() : raw;
  const min = options.min ?? 1;
  if (value.length < min)
    throw invalid(field, min === 1 ? 'must not be empty' : `must have at least ${min} characters`);
  if (value.length > options.max) throw invalid(field, `must have at most ${options.max} characters`);
  if (options.pattern && !options.pattern.test(value))
    throw invalid(field, options.patternText ?? 'has a bad format');
  return value;
}

/**
 * Characters a name may not hold: controls (NUL, newlines …), format characters (the bidirectional
 * overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks U+200E/U+200F, the zero-width
 * space, joiners and no-break space U+200B–U+200D, U+2060, U+FEFF, the soft hyphen …), line and
 * paragraph separators, and lone surrogates: all of them invisible or reorder text, which lets a
 * name pass for another.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/**
 * A display or room name: normalised to Unicode NFC and trimmed, 1 to `max` characters, refused with
 * `SB_CHAT_INVALID_NAME` when it holds a character of {@link INVISIBLE} (named by code point).
 */
export function visibleName(input: Input, field: string, max: number): string {
  const raw = input[field];
  if (typeof raw !== 'string') throw invalid(field, 'must be a string');
  const bad = INVISIBLE.exec(raw);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new ChatError(
      'SB_CHAT_INVALID_NAME',
      `${field}: must not contain control, bidirectional-override, zero-width or other invisible characters (found U+${code}).`,
      { field },
    );
  }
  return string({ [field]: raw.normalize('NFC') }, field, { max, trim: true });
}

/** A string id argument. */
export function id(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 100)
    throw invalid(field, 'must be an id');
  return value;
}

/** An optional non-negative integer. */
export function optionalInteger(input: Input, field: string, max = 2_147_483_647): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(field, `must be an integer from 0 to ${max}`);
  }
  return value;
}

/** An optional boolean. */
export function optionalBoolean(input: Input, field: string): boolean | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false');
  return value;
}

/** A list of ids, 1 to `max` long. */
export function idList(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) {
    throw invalid(field, `must be a list of 1 to ${max} ids`);
  }
  return value.map((v, i) => id(v, `${field}[${i}]`));
}

/** A `SB_CHAT_INVALID_INPUT` for `field`. */
export function invalid(field: string, reason: string): ChatError {
  return new ChatError('SB_CHAT_INVALID_INPUT', `${field}: ${reason}.`, { field });
}
