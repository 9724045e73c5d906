/**
 * The chat server's shapes as the hub and the auth API send them (see the chat server's README).
 * @module
 */

/** A user's role. */
export type Role = 'user' | 'agent' | 'admin';

/** A user as others see them. */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly role: Role;
  readonly isGuest: boolean;
}

/** A signed-in session: the token for the hub and the API, and who it is. */
export interface Session {
  readonly token: string;
  readonly user: User;
}

/** A room, a direct conversation or a support conversation. */
export interface Room {
  readonly id: string;
  readonly name: string;
  readonly isPrivate: boolean;
  readonly isDirect: boolean;
  readonly ownerId: string | null;
  readonly kind: 'room' | 'direct' | 'support';
}

/** One emoji on a message and who put it there. */
export interface Reaction {
  readonly emoji: string;
  readonly count: number;
  readonly userIds: string[];
}

/** A stored message. */
export interface Message {
  readonly id: string;
  readonly roomId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly text: string;
  readonly sentAt: string;
  readonly editedAt?: string;
  readonly deleted?: boolean;
  readonly reactions: Reaction[];
  readonly mentions: string[];
  readonly clientMessageId: string;
  /** The room change number of the message's latest edit, deletion or reaction (0: none). */
  readonly changeSeq?: number;
}

/** `getMessages`' answer: messages by seq range and where the room stands. */
export interface MessagesPage {
  readonly roomId: string;
  readonly messages: Message[];
  readonly lastSeq: number;
  readonly cursor: number;
}

/** `getChanges`' answer: the messages changed after a cursor, as they are now. */
export interface ChangesPage {
  readonly roomId: string;
  readonly cursor: number;
  readonly messages: Message[];
  readonly more: boolean;
  readonly reload: boolean;
}

/** A room in the side list, with the caller's read state. */
export interface RoomSummary extends Room {
  unreadCount: number;
  mentionCount: number;
  lastReadSeq: number;
  lastMessage: Message | null;
}

/** A read marker and what is left to read. */
export interface ReadState {
  readonly roomId: string;
  readonly lastReadSeq: number;
  readonly unreadCount: number;
  readonly mentionCount: number;
}

/** A support request. */
export interface SupportRequest {
  readonly id: string;
  readonly customerId: string;
  /** The customer's display name. */
  readonly customerName?: string;
  readonly roomId: string;
  readonly subject: string;
  readonly status: 'open' | 'assigned' | 'closed';
  readonly agentId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly closedAt: string | null;
}

/** An agent with their load. */
export interface AgentInfo extends User {
  readonly online: boolean;
  readonly assigned: number;
  readonly capacity: number;
}

/** A user's presence. */
export interface Presence {
  readonly userId: string;
  readonly online: boolean;
  readonly lastSeenAt: string | null;
}

/** `roomUpdated`'s argument. */
export interface RoomUpdate {
  readonly room: Room;
  readonly change: string;
  readonly userId: string;
}
