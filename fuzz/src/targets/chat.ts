/**
 * Fuzz target over the chat's input validation (apps/chat-server/src/domain/validate.ts): a
 * request body as bytes, parsed as JSON as the chat's HTTP APIs and the hub's arguments are, then
 * checked field by field. Invariants: a check either returns a value that meets its own rule
 * (length, trimming, range, type, and for names: NFC with no invisible character) or throws a
 * `ChatError` whose code is in the chat's catalogue; nothing else.
 * @module
 */
import * as validate from '../../../apps/chat-server/src/domain/validate.ts';
import { ChatError, chatErrors } from '../../../apps/chat-server/src/errors.ts';
import type { FuzzTarget } from '../engine.js';
import { check, InvariantError } from '../invariants.js';

/** Runs one check: its value, or undefined when it refused the input with a catalogued error. */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ChatError && Object.hasOwn(chatErrors, error.code)) return undefined;
    throw new InvariantError(`the validation threw an error outside the catalogue: ${String(error)}`, {
      cause: error,
    });
  }
}

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
// The name check of the chat's hardening (`visibleName`), when this build has it.
const visibleName = (validate as Record<string, unknown>).visibleName as
  | ((input: validate.Input, field: string, max: number) => string)
  | undefined;

export const chatValidationTarget: FuzzTarget = {
  name: 'chat-validation',
  cover: ['/apps/chat-server/src/domain/validate.ts'],
  maxLength: 512,
  dictionary: [
    '"name":',
    '"ids":[',
    '"limit":',
    '"flag":',
    '"id":',
    '\\u202e',
    '\\u0000',
    '\\u200b',
    '\\ud800',
    'e\\u0301',
    '  ',
    'null',
    'true',
    '1e3',
    '-1',
    '2147483648',
  ],
  seeds: [
    '{"name":"  general  ","id":"r1","ids":["a","b"],"limit":50,"flag":true}',
    '{"name":"caf\\u0065\\u0301","id":"","ids":[],"limit":-1,"flag":"yes"}',
    '{"name":"ev\\u202eil","ids":["x",1,null]}',
    '["not an object"]',
  ].map((s) => Buffer.from(s)),
  run(data) {
    const max = 1 + ((data[0] ?? 0) % 40);
    let body: unknown;
    try {
      body = JSON.parse(data.toString('utf8'));
    } catch {
      body = data.toString('utf8'); // not JSON: the checks still see a value
    }
    const input = attempt(() => validate.object(body));
    if (input === undefined) {
      check(typeof body !== 'object' || body === null || Array.isArray(body), 'an object was refused');
      return;
    }
    const trimmed = attempt(() => validate.string(input, 'name', { max, trim: true }));
    if (trimmed !== undefined) {
      check(trimmed === trimmed.trim() && trimmed.length >= 1 && trimmed.length <= max, 'string rule broken');
    }
    const pattern = attempt(() =>
      validate.string(input, 'name', { min: 3, max, pattern: /^[a-z0-9_]+$/, patternText: 'letters' }),
    );
    if (pattern !== undefined)
      check(/^[a-z0-9_]{3,}$/.test(pattern) && pattern.length <= max, 'pattern rule');
    const id = attempt(() => validate.id(input.id, 'id'));
    if (id !== undefined)
      check(typeof id === 'string' && id.length >= 1 && id.length <= 100, 'id rule broken');
    const ids = attempt(() => validate.idList(input.ids, 'ids', 5));
    if (ids !== undefined) {
      check(
        ids.length >= 1 && ids.length <= 5 && ids.every((i) => typeof i === 'string' && i.length > 0),
        'ids',
      );
    }
    const limit = attempt(() => validate.optionalInteger(input, 'limit', 1000));
    if (limit !== undefined)
      check(Number.isInteger(limit) && limit >= 0 && limit <= 1000, 'integer rule broken');
    const flag = attempt(() => validate.optionalBoolean(input, 'flag'));
    if (flag !== undefined) check(typeof flag === 'boolean', 'boolean rule broken');
    if (visibleName) {
      const name = attempt(() => visibleName(input, 'name', max));
      if (name !== undefined) {
        check(!INVISIBLE.test(name), 'a name with an invisible character was accepted');
        check(name === name.normalize('NFC') && name === name.trim(), 'a name was not normalised');
        check(name.length >= 1 && name.length <= max, 'a name outside its length');
      }
    }
  },
};
