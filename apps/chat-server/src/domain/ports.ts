/**
 * What the domain services need from the outside: the client events they raise, the notifier that
 * delivers them (implemented over the hub in hub/hub-notifier.ts), and their shared dependencies.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { ChatStorage } from '../storage/storage.js';
import type {
  FavouriteUpdate,
  Message,
  Presence,
  Reaction,
  ReadState,
  Room,
  RoomChange,
  SupportRequest,
  ThreadActivity,
  ThreadReadUpdate,
  User,
  UserUpdate,
} from '../types.js';

/** How a room changed for the receiver. */
export type { RoomChange } from '../types.js';

/** The events clients receive (hub method names), each with one object argument. */
export interface ChatClient {
  messageReceived(message: Message): void;
  messageEdited(message: Message): void;
  /** `changeSeq`: the deletion's number in the room's change log. */
  messageDeleted(event: { roomId: string; messageId: string; seq: number; changeSeq: number }): void;
  /** `changeSeq`: the number of the message's latest change in the room's change log. */
  reactionsChanged(event: {
    roomId: string;
    messageId: string;
    reactions: Reaction[];
    changeSeq: number;
  }): void;
  /** A thread's first message got a reply: its new count; `changeSeq` as for reactions. */
  threadUpdated(event: {
    roomId: string;
    messageId: string;
    replyCount: number;
    lastReplySeq: number;
    changeSeq: number;
  }): void;
  /** The receiver's read marker in a thread moved (to every device of theirs). */
  threadReadUpdated(event: ThreadReadUpdate): void;
  /** A new reply in a thread the receiver is in (not theirs), with their state in it. */
  threadActivity(event: ThreadActivity): void;
  /** The receiver marked or unmarked a favourite room (to every device of theirs). */
  favouriteUpdated(event: FavouriteUpdate): void;
  typing(event: { roomId: string; userId: string }): void;
  readUpdated(event: ReadState): void;
  presenceChanged(event: Presence): void;
  /** A user's display name or avatar changed (to them and everyone who shares a room with them). */
  userUpdated(event: UserUpdate): void;
  roomUpdated(event: { room: Room; change: RoomChange; userId: string }): void;
  supportQueueUpdated(event: { request: SupportRequest }): void;
  supportRequestUpdated(event: { request: SupportRequest }): void;
}

/** The name of a client event. */
export type ChatEvent = keyof ChatClient;
/** The argument of a client event. */
export type ChatEventArg<E extends ChatEvent> = Parameters<ChatClient[E]>[0];

/**
 * Delivers events and keeps group membership in step with room membership. Sends resolve once
 * queued and never reject because a recipient failed.
 */
export interface ChatNotifier {
  /** Every connection of every member of the room. */
  toRoom<E extends ChatEvent>(roomId: string, event: E, arg: ChatEventArg<E>): Promise<void>;
  /** Every member's connections except one connection (the typing one). */
  toRoomExcept<E extends ChatEvent>(
    roomId: string,
    connectionId: string,
    event: E,
    arg: ChatEventArg<E>,
  ): Promise<void>;
  /** Every connection of these users. */
  toUsers<E extends ChatEvent>(userIds: readonly string[], event: E, arg: ChatEventArg<E>): Promise<void>;
  /** Every connection of every agent (the support queue). */
  toAgents<E extends ChatEvent>(event: E, arg: ChatEventArg<E>): Promise<void>;
  /** Puts every connection of the user into the room's group. */
  addToRoom(userId: string, roomId: string): Promise<void>;
  /** Takes every connection of the user out of the room's group. */
  removeFromRoom(userId: string, roomId: string): Promise<void>;
  /** Whether the user has a connection on any node (or left less than the grace period ago). */
  isOnline(userId: string): Promise<boolean>;
}

/** The limits the services enforce. */
export interface ChatLimits {
  readonly maxMessageLength: number;
  readonly maxRoomsPerUser: number;
  readonly agentCapacity: number;
  readonly messageRateLimit: number;
  readonly typingRateLimit: number;
}

/** Chat counters for /metrics. */
export interface ChatCounters {
  messagesStored: number;
  typingDropped: number;
  refusals: Map<string, number>;
}

/** Creates zeroed counters. */
export function newCounters(): ChatCounters {
  return { messagesStored: 0, typingDropped: 0, refusals: new Map() };
}

/** What every service gets. */
export interface ServiceDeps {
  readonly storage: ChatStorage;
  readonly notifier: ChatNotifier;
  readonly limits: ChatLimits;
  readonly counters: ChatCounters;
  /** The current time as ISO 8601. */
  readonly now: () => string;
  /** A new unique id. */
  readonly newId: () => string;
}

/** Default clock and ids. */
export const systemClock = { now: () => new Date().toISOString(), newId: () => randomUUID() };

/** The user a service acts for. */
export type Actor = User;

/** Whether the actor may act as an agent (agents and admins). */
export function isAgent(actor: Actor): boolean {
  return actor.role === 'agent' || actor.role === 'admin';
}
