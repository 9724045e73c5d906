/**
 * Profiles on the wire: what the profile routes take and answer, the `userUpdated` event, and the
 * avatar rules the server checks and the web app follows (a square raster image, at most
 * {@link MAX_AVATAR_BYTES}), and the colour of initials for a user without one.
 * @module
 */
import type { User } from './index.js';

/** The largest avatar, in bytes (the web app crops and scales to {@link AVATAR_SIZE} first). */
export const MAX_AVATAR_BYTES = 1024 * 1024;

/** The side, in pixels, the web app scales a cropped avatar to. */
export const AVATAR_SIZE = 256;

/** The image types an avatar may have (checked by content; never SVG). */
export const AVATAR_TYPES: readonly string[] = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/** `PATCH /api/users/{userId}` body: what to change of one's own profile. */
export interface ProfileChange {
  readonly displayName?: string;
}

/** `userUpdated`'s argument: a user's profile as it is now (name or avatar changed). */
export interface UserUpdate {
  readonly user: User;
}

/** `setAway`'s argument. */
export interface AwayChange {
  readonly away: boolean;
}

/**
 * The background colour of a user's initials, derived from the user id (the same on every device):
 * one of a fixed set of colours dark enough for white text (contrast at least 4.5:1).
 */
export function avatarColour(userId: string): string {
  let hash = 0;
  for (const char of userId) hash = (Math.imul(hash, 31) + char.codePointAt(0)!) >>> 0;
  return AVATAR_COLOURS[hash % AVATAR_COLOURS.length]!;
}

/** White text passes 4.5:1 on each of these. */
const AVATAR_COLOURS = [
  '#1f5f8b',
  '#7a3e9d',
  '#9c2f4a',
  '#2e6b3a',
  '#8a4b08',
  '#365a7a',
  '#5b4a8c',
  '#0f6b6b',
  '#7d3c21',
  '#4a5568',
];

/** One or two letters of a display name: the first letters of its first and last words. */
export function initialsOf(displayName: string): string {
  const words = displayName.trim().split(/\s+/u).filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]!][0] ?? '?';
  const last = words.length > 1 ? ([...words[words.length - 1]!][0] ?? '') : '';
  return (first + last).toUpperCase();
}
