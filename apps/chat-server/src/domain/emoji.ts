/**
 * What a reaction may be: exactly one emoji (one RGI emoji sequence: a single emoji, a keycap, a
 * flag, a skin-toned or ZWJ sequence), at most {@link MAX_REACTION_BYTES} bytes of UTF-8.
 * @module
 */
import { ChatError } from '../errors.js';
import { MAX_REACTION_BYTES } from '../types.js';

// Unicode's list of recommended emoji sequences (the `v` flag's property of strings), one of them
// and nothing else. Built from a string: the compile target predates the flag; Node 20 has it.
// biome-ignore lint/complexity/useRegexLiterals: a literal with the `v` flag does not compile for the target.
const ONE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
// Emoji written without their variation selector ("❤" for "❤️") are still one emoji.
const ONE_BARE_EMOJI = /^\p{Extended_Pictographic}$/u;

/** Whether `value` is exactly one emoji of at most {@link MAX_REACTION_BYTES} bytes. */
export function isOneEmoji(value: string): boolean {
  if (Buffer.byteLength(value, 'utf8') > MAX_REACTION_BYTES) return false;
  return ONE_EMOJI.test(value) || ONE_BARE_EMOJI.test(value);
}

/** The emoji of a reaction, or `SB_CHAT_INVALID_REACTION`. */
export function reactionEmoji(value: unknown): string {
  if (typeof value !== 'string' || !isOneEmoji(value)) {
    throw new ChatError(
      'SB_CHAT_INVALID_REACTION',
      `emoji: must be exactly one emoji (at most ${MAX_REACTION_BYTES} bytes).`,
      { field: 'emoji' },
    );
  }
  return value;
}
