/**
 * The storage half of favourites, invite links and thread states (implemented by both SQL
 * storages in `sql-storage.ts`, over `sql/<dialect>-rooms-extra-queries.sql`).
 *
 * Contract: `useInvite` takes one use of an active link in one conditional update (not revoked,
 * not expired at `now`, fewer uses than its limit), so concurrent uses on any number of nodes never
 * exceed the limit.
 * @module
 */
import type { ThreadState } from '../types.js';

/** An invite link as stored. */
export interface InviteRecord {
  readonly id: string;
  readonly token: string;
  readonly roomId: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly maxUses: number;
  readonly uses: number;
  readonly revokedAt: string | null;
}

/** An invite link to store (no use yet). */
export type NewInvite = Omit<InviteRecord, 'uses' | 'revokedAt'>;

/** Favourites, invite links and thread states. */
export interface RoomExtrasStorage {
  /** Marks (or unmarks) a room a favourite of the user; idempotent. */
  setFavourite(userId: string, roomId: string, favourite: boolean, at: string): Promise<void>;
  /** The ids of the user's favourite rooms. */
  favouriteRoomIds(userId: string): Promise<string[]>;
  insertInvite(invite: NewInvite): Promise<InviteRecord>;
  inviteById(id: string): Promise<InviteRecord | undefined>;
  inviteByToken(token: string): Promise<InviteRecord | undefined>;
  /** A room's invite links, newest first. */
  invitesOfRoom(roomId: string): Promise<InviteRecord[]>;
  /** Revokes a link; false when it was revoked already (or is unknown). */
  revokeInvite(id: string, at: string): Promise<boolean>;
  /** Takes one use of the active link `token` (see the contract); the room id, or undefined. */
  useInvite(token: string, now: string): Promise<string | undefined>;
  /** The user's states in the threads of a room they are in (one thread: `parentId`). */
  threadStates(roomId: string, userId: string, parentId?: string): Promise<ThreadState[]>;
  /** The author of a thread's first message and everyone who replied in it. */
  threadParticipants(parentId: string): Promise<string[]>;
}
