/**
 * The chat's wire contract: the shapes the chat server sends over its hub and HTTP API and the web
 * app reads, in one module imported by both. Times are ISO 8601 strings in every protocol.
 * @module
 */

/** A user's role. Guests (support customers) are users with `isGuest`. */
export type Role = 'user' | 'agent' | 'admin';

/** The roles, for validation. */
export const ROLES: readonly Role[] = ['user', 'agent', 'admin'];

/** A user as others see them. */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly role: Role;
  /** A support customer created by `POST /api/auth/guest`, without a password. */
  readonly isGuest: boolean;
  /**
   * The avatar's URL (`/api/avatars/{avatarId}`, fetched with a signed-in user's token); absent:
   * none (initials on a colour from the user id are shown, see {@link avatarColour}).
   */
  readonly avatarUrl?: string;
}

/** What kind of conversation a room is. */
export type RoomKind = 'room' | 'direct' | 'support';

/** A room. */
export interface Room {
  readonly id: string;
  readonly name: string;
  readonly isPrivate: boolean;
  readonly isDirect: boolean;
  /** The creator (for a support room, the customer); null for direct conversations. */
  readonly ownerId: string | null;
  readonly kind: RoomKind;
  /** Shown under the room's name ('' when none). */
  readonly topic?: string;
  /** Archived: read-only and out of the public list until restored. */
  readonly archived?: boolean;
}

/** One emoji on a message and who put it there. */
export interface Reaction {
  readonly emoji: string;
  readonly count: number;
  readonly userIds: string[];
}

/** A stored message. A deleted message keeps its seq, with empty text and `deleted: true`. */
export interface Message {
  readonly id: string;
  readonly roomId: string;
  /** Position in the room: 1, 2, 3 … with no gap. */
  readonly seq: number;
  readonly senderId: string;
  readonly text: string;
  readonly sentAt: string;
  readonly editedAt?: string;
  readonly deleted?: boolean;
  readonly reactions: Reaction[];
  /** The user ids mentioned (`@username` of a member). */
  readonly mentions: string[];
  readonly clientMessageId: string;
  /**
   * The room change number of the message's latest edit, deletion or reaction change (0: never
   * changed): of two copies of a message, the one with the higher number is the newer.
   */
  readonly changeSeq: number;
  /** The files sent with the message (absent when none), in the order they were given. */
  readonly attachments?: Attachment[];
  /** A reply: the id of its thread's first message (in the same room). */
  readonly parentId?: string;
  /** A thread's first message: how many replies it has (absent: none). */
  readonly replyCount?: number;
  /** A thread's first message: the seq of its newest reply. */
  readonly lastReplySeq?: number;
}

/**
 * A stored file: what `POST /api/rooms/{roomId}/attachments` answers and what a message carries.
 * `GET {url}` (a member's token) serves it.
 */
export interface Attachment {
  readonly id: string;
  readonly roomId: string;
  /** The file's name as uploaded (no path); the download's name. */
  readonly name: string;
  /** Bytes. */
  readonly size: number;
  /** The checked image type, the declared type, or `application/octet-stream`. */
  readonly contentType: string;
  /** A PNG, JPEG, GIF or WebP whose bytes match its type: served inline and shown as an image. */
  readonly image: boolean;
  /** `/api/attachments/{id}`. */
  readonly url: string;
}

/** At most this many different emoji on one message (`react` refuses a new one past it). */
export const MAX_DISTINCT_REACTIONS = 20;

/** A reaction's emoji is at most this many bytes of UTF-8. */
export const MAX_REACTION_BYTES = 32;

/** `getThread`'s answer: a thread's first message and its replies. */
export interface ThreadPage {
  readonly roomId: string;
  /** The thread's first message (a tombstone when it was deleted: the thread stays). */
  readonly parent: Message;
  /** Replies in ascending seq, after the `afterSeq` asked for. */
  readonly replies: Message[];
  /** More replies after the last one here: ask again from its seq. */
  readonly more: boolean;
  /** The caller's read marker in the thread (0: never read). */
  readonly lastReadSeq: number;
}

/** The caller's read marker in one thread, as `listThreadReads`, `markThreadRead` and `threadReadUpdated` carry it. */
export interface ThreadRead {
  /** The thread's first message. */
  readonly messageId: string;
  readonly lastReadSeq: number;
}

/** `threadReadUpdated`'s argument (to the caller's own devices). */
export interface ThreadReadUpdate extends ThreadRead {
  readonly roomId: string;
}

/** A room in `listRooms`: the room plus the caller's read state. */
export interface RoomSummary extends Room {
  readonly unreadCount: number;
  readonly mentionCount: number;
  readonly lastReadSeq: number;
  readonly lastMessage: Message | null;
  /** The caller marked the room a favourite (`setFavourite`); absent: not. */
  readonly favourite?: boolean;
}

/** A user's read marker in a room and what is left to read. */
export interface ReadState {
  readonly roomId: string;
  readonly lastReadSeq: number;
  readonly unreadCount: number;
  readonly mentionCount: number;
}

/** The states of a support request. */
export type SupportStatus = 'open' | 'assigned' | 'closed';

/** A customer's support request. */
export interface SupportRequest {
  readonly id: string;
  readonly customerId: string;
  /** The customer's display name (agents see it in the queue before claiming). */
  readonly customerName: string;
  /** The customer's support room: the same one for every request of that customer. */
  readonly roomId: string;
  readonly subject: string;
  readonly status: SupportStatus;
  readonly agentId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly closedAt: string | null;
}

/** A user's presence as `getPresence` answers it. */
export interface Presence {
  readonly userId: string;
  readonly online: boolean;
  readonly lastSeenAt: string | null;
  /** `online`, `away` (online, but said they are away) or `offline` (absent from older servers). */
  readonly status?: PresenceStatus;
}

/** What the members list shows of a person. */
export type PresenceStatus = 'online' | 'away' | 'offline';

export * from './profiles.js';

/** `getMessages`' answer: messages by seq range and where the room stands. */
export interface MessagesPage {
  readonly roomId: string;
  /** In ascending seq, without gap. */
  readonly messages: Message[];
  /** The room's newest seq. */
  readonly lastSeq: number;
  /** The room's change cursor, read before the messages. */
  readonly cursor: number;
}

/** `getChanges`' answer: the messages changed after a cursor, as they are now. */
export interface ChangesPage {
  readonly roomId: string;
  /** The cursor to ask from next time. */
  readonly cursor: number;
  /** By seq. */
  readonly messages: Message[];
  /** More changes after `cursor`: ask again. */
  readonly more: boolean;
  /** The cursor is older than the change log keeps: load the room anew. */
  readonly reload: boolean;
}

/** What register, login, guest, refresh and password change answer. */
export interface Session {
  readonly token: string;
  /** ISO 8601. */
  readonly expiresAt: string;
  readonly user: User;
}

/** An agent as `listAgents` shows them. */
export interface AgentInfo extends User {
  readonly online: boolean;
  readonly assigned: number;
  readonly capacity: number;
}

/** What happened to a room's membership, as `roomUpdated` says. */
export type RoomChange = 'joined' | 'left' | 'removed' | 'memberJoined' | 'memberLeft' | 'updated';

/** `updateRoom`'s argument: what to change (an absent field stays). */
export interface RoomSettings {
  readonly roomId: string;
  readonly name?: string;
  readonly topic?: string;
  readonly isPrivate?: boolean;
  readonly archived?: boolean;
}

/** `roomUpdated`'s argument. */
export interface RoomUpdate {
  readonly room: Room;
  readonly change: RoomChange;
  readonly userId: string;
}

export type * from './admin.js';
/** `setFavourite`'s answer and `favouriteUpdated`'s argument (to every device of the user). */
export interface FavouriteUpdate {
  readonly roomId: string;
  readonly favourite: boolean;
}

/** Where an invite link stands: only an `active` one lets people in. */
export type InviteStatus = 'active' | 'expired' | 'usedUp' | 'revoked';

/** A room's invite link, as `createInvite` and `listInvites` answer it (to the room's managers). */
export interface RoomInvite {
  readonly id: string;
  readonly roomId: string;
  /** The secret of the link; the web app opens it at `/invite/{token}`. */
  readonly token: string;
  /** `/invite/{token}`: the path of the link on the web app's origin. */
  readonly path: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** How many people may join with it. */
  readonly maxUses: number;
  /** How many joined with it. */
  readonly uses: number;
  readonly revokedAt: string | null;
  readonly status: InviteStatus;
}

/** `createInvite`'s argument. */
export interface InviteRequest {
  readonly roomId: string;
  /** How long the link works, in seconds (default 7 days, at most 30 days). */
  readonly expiresInSeconds?: number;
  /** How many people may use it (default 25, at most 1,000). */
  readonly maxUses?: number;
}

/** The longest and default lifetimes and use limits of invite links. */
export const INVITE_LIMITS = {
  defaultSeconds: 7 * 24 * 3600,
  maxSeconds: 30 * 24 * 3600,
  defaultUses: 25,
  maxUses: 1000,
} as const;

/**
 * The caller's state in one thread they are in (they wrote its first message or replied in it), as
 * `listThreadStates` answers it and `threadActivity` carries it.
 */
export interface ThreadState {
  readonly roomId: string;
  /** The thread's first message. */
  readonly messageId: string;
  readonly replyCount: number;
  readonly lastReplySeq: number;
  /** The caller's read marker in the thread (0: never read). */
  readonly lastReadSeq: number;
  /** Replies by others after the marker (deleted ones not counted). */
  readonly unreadCount: number;
}

/** `threadActivity`'s argument: a new reply in a thread the receiver is in, and their state there. */
export interface ThreadActivity {
  readonly state: ThreadState;
  readonly reply: Message;
}
