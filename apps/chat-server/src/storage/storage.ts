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
 * - Threads: a message inserted with a `parentId` is a reply; in the same transaction its parent's
 *   `replyCount` and `lastReplySeq` move (a logged change of the parent, kind `replies`) and the
 *   sender's read marker in the thread reaches the reply. Deleting a parent keeps its replies.
 * - Deletion: `deleteMessage` removes the text from the table, the search index, its mentions and
 *   its reactions; the row stays (empty text, `deleted`) so the sequence keeps no gap.
 * - Support claims: `claimSupportRequest` is one conditional update (`status = 'open'`): of two
 *   agents claiming at once, exactly one gets true.
 * - Change log: every edit, deletion and reaction change takes the room's next change number
 *   (1, 2, 3 … without gap, under the same lock as the sequence, so numbers commit in order) and is
 *   logged with it; the message records the number of its latest change (`changeSeq`). Entries are
 *   kept {@link CHANGE_RETENTION_MS} (30 days) at least; `changesSince` a cursor older than the
 *   oldest kept entry answers `expired`.
 * - Read your writes: every method's effect is visible to every later call on any instance over the
 *   same database once its promise resolved.
 * - Room names: an ordinary room's {@link roomNameKey} is unique among public rooms and among the
 *   rooms of one owner; `createRoom` refuses a clash with `ChatError` `SB_CHAT_ROOM_NAME_TAKEN`
 *   (a unique index, so two rooms created at once on two nodes cannot both win).
 * - Errors: a unique username clash throws `ChatError` `SB_CHAT_USERNAME_TAKEN`; anything else
 *   (a lost connection) rejects with the driver's error.
 * @module
 */

import type {
  MAX_DISTINCT_REACTIONS,
  Message,
  Reaction,
  ReadState,
  Role,
  Room,
  RoomKind,
  RoomSummary,
  SupportRequest,
  ThreadRead,
  User,
  UserRecord,
} from '../types.js';
import type { AttachmentRecord, NewAttachment } from './attachments.js';
import type { RoomExtrasStorage } from './room-extras.js';

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

/**
 * What makes two room names the same: compatibility-normalised (NFKC), spaces collapsed, case
 * folded ("Team  A", "team a" and "ＴＥＡＭ Ａ" clash; so do "Straße" and "STRASSE").
 */
export function roomNameKey(name: string): string {
  return name.normalize('NFKC').trim().replace(/\s+/g, ' ').toUpperCase().toLowerCase();
}

/** What `updateRoomSettings` changes (an absent field stays). */
export interface RoomSettingsChange {
  readonly name?: string;
  readonly topic?: string;
  readonly isPrivate?: boolean;
  readonly archived?: boolean;
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
  /** The first message of the thread this one replies in (same room), if a reply. */
  readonly parentId?: string | null;
}

/** A page of history: without a cursor the newest `limit`, always in ascending seq. */
export interface HistoryQuery {
  readonly beforeSeq?: number;
  readonly afterSeq?: number;
  readonly limit: number;
}

/** How long a room's change log keeps an entry: 30 days. */
export const CHANGE_RETENTION_MS = 30 * 24 * 3600_000;

/** What a change logged for a message was. */
export type ChangeKind = 'edited' | 'deleted' | 'reactions' | 'replies';

/** Where a room stands: its newest seq and its change cursor (the number of its latest change). */
export interface RoomPosition {
  readonly lastSeq: number;
  readonly changeCursor: number;
}

/** A page of a room's change log after a cursor. */
export interface ChangePage {
  /** The number of the last change included (the cursor given when there was none). */
  readonly cursor: number;
  /** The current state of every message changed after the cursor given, up to `cursor`, by seq. */
  readonly messages: Message[];
  /** Whether changes after `cursor` exist beyond this page. */
  readonly more: boolean;
  /** The cursor given is older than the log keeps (or unknown): the reader must reload the room. */
  readonly expired: boolean;
}

/** A support request to create. */
export interface NewSupportRequest {
  readonly id: string;
  readonly customerId: string;
  readonly roomId: string;
  readonly subject: string;
  readonly createdAt: string;
}

/** What the chat keeps of a host app's user beside their users row (issue #15). */
export interface HostUserRecord {
  readonly userId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly avatarUrl: string | null;
  /** A digest of the claims last applied (a change updates the user). */
  readonly claimsHash: string;
}

/** An API key as listed (never the key itself). */
export interface ApiKeyInfo {
  readonly name: string;
  /** The key's first characters. */
  readonly prefix: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** The chat's persistent state. */
export interface ChatStorage extends RoomExtrasStorage {
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
  /** Changes a user's display name (checked by the caller). */
  setDisplayName(userId: string, displayName: string): Promise<void>;
  /** Names a user's avatar blob (null: none). */
  setAvatar(userId: string, avatarId: string | null): Promise<void>;
  /** The user whose avatar is this blob, if any (only a current avatar is served). */
  userByAvatar(avatarId: string): Promise<UserRecord | undefined>;
  /** Marks a user away (shown while they are online) or back. */
  setAway(userId: string, away: boolean): Promise<void>;
  /** Bumps the token version (every older token stops working); returns the new version. */
  bumpTokenVersion(userId: string): Promise<number>;
  setLastSeen(userId: string, at: string): Promise<void>;
  /** Every user with the agent role. */
  agents(): Promise<User[]>;

  /** Revokes a token id until `expiresAt` (ms since the epoch), then forgets it. */
  revokeToken(jti: string, expiresAt: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;

  /**
   * Creates a room with its members. For a direct room whose `directKey` exists already, creates
   * nothing and returns the existing room. An ordinary room whose name clashes (see
   * {@link roomNameKey}) is refused with `SB_CHAT_ROOM_NAME_TAKEN`.
   */
  createRoom(room: NewRoom, memberIds: readonly string[]): Promise<Room>;
  roomById(id: string): Promise<Room | undefined>;
  directRoomByKey(key: string): Promise<Room | undefined>;
  /** The support room of a customer, if they ever opened a request. */
  supportRoomOf(customerId: string): Promise<Room | undefined>;
  /** Public rooms (not private, not direct, not support), by name. */
  publicRooms(limit: number): Promise<Room[]>;
  /** The admin view: the `limit` rooms with the most members (then by name), and how many exist. */
  roomMemberCounts(limit: number): Promise<{ rooms: Array<Room & { members: number }>; total: number }>;
  /**
   * Changes a room's name, topic, privacy or archived state; undefined for an unknown room. A name
   * (or privacy) that clashes (see {@link roomNameKey}) is refused with `SB_CHAT_ROOM_NAME_TAKEN`.
   */
  updateRoomSettings(roomId: string, changes: RoomSettingsChange): Promise<Room | undefined>;
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
  /** Which of `otherIds` wrote a message in a room `userId` is a member of (former members too). */
  sendersSeenBy(userId: string, otherIds: readonly string[]): Promise<string[]>;
  /** Every user who shares a room with `userId` (not `userId` itself). */
  contactsOf(userId: string): Promise<string[]>;

  /** Stores a message with the room's next seq (see the contract); idempotent per sender. */
  insertMessage(message: NewMessage): Promise<{ message: Message; created: boolean }>;
  messageById(id: string): Promise<Message | undefined>;
  /** Changes the text (a logged change). */
  editMessage(id: string, text: string, mentions: readonly string[], editedAt: string): Promise<Message>;
  /** Removes the text (see the contract) and returns the tombstone (a logged change at `at`, default now). */
  deleteMessage(id: string, at?: string): Promise<Message>;
  /**
   * Adds the user's emoji, or removes it when it was there (a logged change); returns the message's
   * reactions. An emoji the message does not carry yet is refused with `SB_CHAT_TOO_MANY_REACTIONS`
   * when it already carries `maxDistinct` (default {@link MAX_DISTINCT_REACTIONS}) different ones (checked under the room's lock, so two
   * reactions at once on two nodes cannot both pass).
   */
  toggleReaction(
    messageId: string,
    userId: string,
    emoji: string,
    at: string,
    maxDistinct?: number,
  ): Promise<Reaction[]>;
  /** A thread's replies (messages whose parent is `parentId`) after `afterSeq`, by seq, at most `limit`. */
  threadReplies(parentId: string, afterSeq: number, limit: number): Promise<Message[]>;
  /** The user's read marker in a thread (the seq of the newest reply seen), if they have one. */
  threadReadSeq(parentId: string, userId: string): Promise<number | undefined>;
  /** The user's read markers in the threads of a room. */
  threadReads(roomId: string, userId: string): Promise<ThreadRead[]>;
  /** Moves the user's read marker in a thread forward to `seq` (never back); returns where it is. */
  markThreadRead(parentId: string, userId: string, roomId: string, seq: number): Promise<number>;
  history(roomId: string, query: HistoryQuery): Promise<Message[]>;
  /** The room's newest seq and change cursor; undefined for an unknown room. */
  roomPosition(roomId: string): Promise<RoomPosition | undefined>;
  /** The messages changed after `since` in the room's change log, at most `limit` changes. */
  changesSince(roomId: string, since: number, limit: number): Promise<ChangePage>;
  /** Full-text search over the rooms `userId` is a member of (or one of them), newest first. */
  searchMessages(
    userId: string,
    query: string,
    roomId: string | undefined,
    limit: number,
  ): Promise<Message[]>;
  /** Records an uploaded file whose bytes are stored already (see attachments.ts). */
  insertAttachment(attachment: NewAttachment): Promise<AttachmentRecord>;
  attachmentById(id: string): Promise<AttachmentRecord | undefined>;
  /** How many bytes the user uploaded after `since` (ISO 8601). */
  attachmentBytesSince(uploaderId: string, since: string): Promise<number>;
  /**
   * Gives a message those of `ids` that `uploaderId` uploaded to `roomId` and no message took yet
   * (a conditional update: one message per file); returns the ids it took.
   */
  attachToMessage(
    messageId: string,
    roomId: string,
    uploaderId: string,
    ids: readonly string[],
  ): Promise<string[]>;
  /** Removes the rows of a message's files and returns their ids (their bytes are the caller's). */
  deleteAttachmentsOfMessage(messageId: string): Promise<string[]>;
  /** Removes the rows of uploads no message took, made before `before`; returns their ids. */
  deleteUnattachedBefore(before: string): Promise<string[]>;
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

  /** The host-app part of a user, if the user came from the host app. */
  hostUser(userId: string): Promise<HostUserRecord | undefined>;
  /** Records (or updates) the host-app part of a user whose users row exists. */
  upsertHostUser(record: HostUserRecord, at: string): Promise<void>;
  /** Stores an API key's hash under a name; false when the name is taken. */
  createApiKey(name: string, keyHash: string, prefix: string, at: string): Promise<boolean>;
  /** Every API key, by name. */
  apiKeys(): Promise<ApiKeyInfo[]>;
  /** The key with this hash (noting its use at `at`), if it exists. */
  useApiKey(keyHash: string, at: string): Promise<ApiKeyInfo | undefined>;
  /** Deletes a key; true when it existed. */
  revokeApiKey(name: string): Promise<boolean>;
  /** Support requests in one state (`open`, `assigned`, `closed`), oldest first, at most `limit`. */
  supportRequestsByStatus(status: string, limit: number): Promise<SupportRequest[]>;
}
