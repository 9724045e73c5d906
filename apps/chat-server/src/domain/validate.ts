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
