/**
 * The chat's data: the wire contract (shared with the web app) and what only the server keeps.
 * @module
 */

import type { User } from '@switchboard/chat-contract';

export * from '@switchboard/chat-contract';

/** A user with what only the server needs. */
export interface UserRecord extends User {
  /** `scrypt$...`, or null for guests. */
  readonly passwordHash: string | null;
  /** Bumped by a password change: tokens of an older version stop working. */
  readonly tokenVersion: number;
  readonly createdAt: string;
  readonly lastSeenAt: string | null;
  /** The avatar's blob id (null: none; initials are shown). */
  readonly avatarId?: string | null;
  /** The user said they are away. */
  readonly away?: boolean;
}
