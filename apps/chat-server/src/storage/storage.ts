/**
 * The storage contract of the chat: one interface, implemented on SQLite (the embedded default)
 * and on PostgreSQL (shared by several nodes). Both run the same test suite
 * (`test/storage-suite.ts`).
 *
 * Contract, for every implementation:
 * - Sequence: every room has a gap-free sequence 1, 2, 3 …; `insertMessage` allocates the next
 *   number in the same transaction as the insert, under a lock on the room's counter, so writers
 *   on any number of connections, pools or nodes never skip or repeat a number. A message keeps its
 *   seq when deleted.
 * - Idempotence: `(roomId, senderId, clientMessageId)` is unique. Inserting it again (a retry, or
 *   two identical sends at once) stores nothing and returns the stored message with
 *   `created: false`; the losing insert does not consume a sequence number. The same
 *   clientMessageId in another room is another message.
 * - Deletion: `deleteMessage` removes the text from the table, the search index, its mentions and
 *   its reactions; the row stays (empty text, `deleted`) so the sequence keeps no gap.
 * - Support claims: `claimSupportRequest` is one conditional update (`status = 'open'`): of two
 *   agents claiming at once, exactly one gets true.
 * - Read your writes: every method's effect is visible to every later call on any instance over the
 *   same database once its promise resolved.
 * - Errors: a unique username clash throws `ChatError` `SB_CHAT_USERNAME_TAKEN`; anything else
 *   (a lost connection) rejects with the driver's error.
 * @module
 */
import type {
  Message,
  Reaction,
  ReadState,
  Role,
  Room,
  RoomKind,
  RoomSummary,
  SupportRequest,
  User,
  UserRecord,
} from '../types.js';

/** A user to create. */
export interface NewUser {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly passwordHash: string | null;
  readonly role: Role;
  readonly isGuest: boolean;
  readonly createdAt: string;
}

/** A room to create. */
export interface NewRoom {
  readonly id: string;
  readonly name: string;
  readonly isPrivate: boolean;
  readonly kind: RoomKind;
  readonly ownerId: string | null;
  /** For direct rooms: the sorted member ids joined by commas; unique. */
  readonly directKey?: string;
  readonly createdAt: string;
}

/** A message to store; the storage assigns `seq`. */
export interface NewMessage {
  readonly id: string;
  readonly roomId: string;
  readonly senderId: string;
  readonly text: string;
  readonly mentions: readonly string[];
  readonly clientMessageId: string;
  readonly sentAt: string;
}

/** A page of history: without a cursor the newest `limit`, always in ascending seq. */
export interface HistoryQuery {
  readonly beforeSeq?: number;
  readonly afterSeq?: number;
  readonly limit: number;
}

/** A support request to create. */
export interface NewSupportRequest {
  readonly id: string;
  readonly customerId: string;
  readonly roomId: string;
  readonly subject: string;
  readonly createdAt: string;
}

/** The chat's persistent state. */
export interface ChatStorage {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema (recorded in `schema_migrations`); safe to run on every start. */
  migrate(): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Releases connections and files. */
  close(): Promise<void>;

  /** The stored value of `key`, storing `value` first when there is none (first writer wins). */
  getOrCreateSetting(key: string, value: string): Promise<string>;

  /** Creates a user; throws `SB_CHAT_USERNAME_TAKEN` when the username exists. */
  createUser(user: NewUser): Promise<UserRecord>;
  userById(id: string): Promise<UserRecord | undefined>;
  /** Looks a username up case-insensitively (usernames are stored lower-case). */
  userByUsername(username: string): Promise<UserRecord | undefined>;
  usersByIds(ids: readonly string[]): Promise<User[]>;
  /** Non-guest users whose username or display name contains `query`, at most `limit`. */
  searchUsers(query: string, limit: number): Promise<User[]>;
  /** Sets the password hash and bumps the token version; returns the new version. */
  setPassword(userId: string, passwordHash: string): Promise<number>;
  setRole(userId: string, role: Role): Promise<void>;
  setLastSeen(userId: string, at: string): Promise<void>;
  /** Every user with the agent role. */
  agents(): Promise<User[]>;

  /** Revokes a token id until `expiresAt` (ms since the epoch), then forgets it. */
  revokeToken(jti: string, expiresAt: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;

  /**
   * Creates a room with its members. For a direct room whose `directKey` exists already, creates
   * nothing and returns the existing room.
   */
  createRoom(room: NewRoom, memberIds: readonly string[]): Promise<Room>;
  roomById(id: string): Promise<Room | undefined>;
  directRoomByKey(key: string): Promise<Room | undefined>;
  /** The support room of a customer, if they ever opened a request. */
  supportRoomOf(customerId: string): Promise<Room | undefined>;
  /** Public rooms (not private, not direct, not support), by name. */
  publicRooms(limit: number): Promise<Room[]>;
  /** How many ordinary rooms a user owns. */
  countOwnedRooms(userId: string): Promise<number>;
  /** Adds a member; true when they were not one already. Their read marker starts at the room's end. */
  addMember(roomId: string, userId: string, at: string): Promise<boolean>;
  /** Removes a member; true when they were one. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
  isMember(roomId: string, userId: string): Promise<boolean>;
  roomMembers(roomId: string): Promise<User[]>;
  memberIds(roomId: string): Promise<string[]>;
  /** The ids of every room the user is a member of. */
  roomIdsOf(userId: string): Promise<string[]>;
  /** The user's rooms with unread and mention counts and the last message, latest activity first. */
  roomSummaries(userId: string): Promise<RoomSummary[]>;
  /** Which of `otherIds` share at least one room with `userId`. */
  sharingRoomWith(userId: string, otherIds: readonly string[]): Promise<string[]>;
  /** Every user who shares a room with `userId` (not `userId` itself). */
  contactsOf(userId: string): Promise<string[]>;

  /** Stores a message with the room's next seq (see the contract); idempotent per sender. */
  insertMessage(message: NewMessage): Promise<{ message: Message; created: boolean }>;
  messageById(id: string): Promise<Message | undefined>;
  editMessage(id: string, text: string, mentions: readonly string[], editedAt: string): Promise<Message>;
  /** Removes the text (see the contract) and returns the tombstone. */
  deleteMessage(id: string): Promise<Message>;
  /** Adds the user's emoji, or removes it when it was there; returns the message's reactions. */
  toggleReaction(messageId: string, userId: string, emoji: string, at: string): Promise<Reaction[]>;
  history(roomId: string, query: HistoryQuery): Promise<Message[]>;
  /** Full-text search over the rooms `userId` is a member of (or one of them), newest first. */
  searchMessages(
    userId: string,
    query: string,
    roomId: string | undefined,
    limit: number,
  ): Promise<Message[]>;
  /** Moves the read marker forward to `seq` (never back, never past the end). */
  markRead(roomId: string, userId: string, seq: number): Promise<ReadState>;

  block(blockerId: string, blockedId: string, at: string): Promise<void>;
  unblock(blockerId: string, blockedId: string): Promise<void>;
  /** Which of `otherIds` have blocked `userId`. */
  blockersOf(userId: string, otherIds: readonly string[]): Promise<string[]>;

  createSupportRequest(request: NewSupportRequest): Promise<SupportRequest>;
  supportRequestById(id: string): Promise<SupportRequest | undefined>;
  /** The customer's request that is open or assigned, if any. */
  activeSupportRequestOf(customerId: string): Promise<SupportRequest | undefined>;
  /** Open and assigned requests, oldest first. */
  supportQueue(): Promise<SupportRequest[]>;
  /**
   * Assigns an open request to `agentId` if the agent has fewer than `capacity` assigned ones:
   * one conditional update, true for exactly one of several concurrent claims.
   */
  claimSupportRequest(id: string, agentId: string, capacity: number, at: string): Promise<boolean>;
  /** Moves an assigned request from one agent to another (with the same capacity rule). */
  transferSupportRequest(
    id: string,
    fromAgentId: string,
    toAgentId: string,
    capacity: number,
    at: string,
  ): Promise<boolean>;
  /** Puts a request assigned to `agentId` back into the queue (open, no agent). */
  requeueSupportRequest(id: string, agentId: string, at: string): Promise<boolean>;
  /** Closes a request that is not closed yet. */
  closeSupportRequest(id: string, at: string): Promise<boolean>;
  /** How many requests the agent has assigned. */
  assignedCount(agentId: string): Promise<number>;

  /**
   * Takes one token from the bucket `key` (refilled at `ratePerSecond`, holding up to `burst`):
   * true when taken, false when the bucket is empty. Atomic across every instance on the storage,
   * so a limit holds for every node sharing it (PostgreSQL uses the database's clock).
   */
  takeRateToken(key: string, ratePerSecond: number, burst: number): Promise<boolean>;

  /** When `key` (an account, or an account from one address) may try to log in again, ms; 0: now. */
  loginBlockedUntil(key: string): Promise<number>;
  /**
   * Counts one more failed login of `key` and returns the count; a count untouched since
   * `staleBeforeMs` starts again at 1, and such counts of other keys (no longer blocked) are
   * forgotten.
   */
  addLoginFailure(key: string, nowMs: number, staleBeforeMs: number): Promise<number>;
  /** Makes `key` wait until `untilMs` before its next attempt. */
  blockLogin(key: string, untilMs: number): Promise<void>;
  /** Forgets the failures of `key` (a successful login). */
  clearLoginFailures(key: string): Promise<void>;
  /** Records that the user signed in from the address (its hash) now. */
  rememberLoginAddress(userId: string, addressHash: string, nowMs: number): Promise<void>;
  /** Whether the user signed in from the address (its hash) since `sinceMs`. */
  isKnownLoginAddress(userId: string, addressHash: string, sinceMs: number): Promise<boolean>;
}
