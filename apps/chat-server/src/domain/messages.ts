/**
 * Messages: send (idempotent per clientMessageId), edit, delete, react, history, search, read
 * markers and typing, with their rules: only members read and post; only the author edits; the
 * author, the room's owner or an admin deletes; limits on length and rate.
 * @module
 */
import { ChatError, forbidden, notFound } from '../errors.js';
import {
  type ChangesPage,
  MAX_DISTINCT_REACTIONS,
  type Message,
  type MessagesPage,
  type Reaction,
  type ReadState,
  type Room,
} from '../types.js';
import { type AttachmentService, attachmentIdsOf } from './attachments.js';
import { reactionEmoji } from './emoji.js';
import type { Actor, ServiceDeps } from './ports.js';
import { RateLimiter } from './rate-limit.js';
import { archivedRoom, refuseIfArchived } from './room-settings.js';
import type { RoomService } from './rooms.js';
import { id, invalid, object, optionalInteger, string } from './validate.js';

/** History pages: 50 by default, 200 at most. */
export const HISTORY_LIMITS = { default: 50, max: 200 } as const;

/** How many changes one `getChanges` answer covers at most. */
export const CHANGES_PAGE = 200;

/** Messages and read state. */
export class MessageService {
  private readonly typingLimiter: RateLimiter;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
    /** Files sent with messages (absent: messages carry none). */
    private readonly attachments?: AttachmentService,
  ) {
    this.typingLimiter = new RateLimiter(deps.limits.typingRateLimit, deps.limits.typingRateLimit * 3);
  }

  /**
   * Stores a message and delivers it to every connection of every member (the sender's included).
   * A retry with the same clientMessageId returns the stored message and delivers nothing again.
   */
  async sendMessage(actor: Actor, args: unknown): Promise<Message> {
    const input = object(args, 'message');
    const roomId = id(input.roomId, 'roomId');
    const files = this.attachments ? attachmentIdsOf(input) : [];
    // With files, the text is an optional caption.
    const text = files.length > 0 && (input.text ?? '') === '' ? '' : this.text(input);
    const clientMessageId = string(input, 'clientMessageId', { max: 128 });
    const room = await this.rooms.requireMember(actor, roomId);
    const parentId = await this.threadOf(room, input.parentId);
    return this.post(actor, room, text, clientMessageId, files, parentId);
  }

  /**
   * The thread a reply to `messageId` goes in: the message's own thread when it is a reply itself
   * (threads are one level deep), else the message; a deleted message's thread stays open.
   * Undefined when not a reply.
   */
  private async threadOf(room: Room, messageId: unknown): Promise<string | undefined> {
    if (messageId === undefined || messageId === null) return undefined;
    const target = await this.deps.storage.messageById(id(messageId, 'parentId'));
    if (!target || target.roomId !== room.id) throw notFound('No such message in this room.');
    return target.parentId ?? target.id;
  }

  /**
   * Stores and delivers a message in a room the caller is known to be a member of. The rate limit
   * (`MESSAGE_RATE_LIMIT` per second per user, burst the same) is a token bucket in the storage,
   * so with shared storage it holds across every node, not per node.
   */
  async post(
    actor: Actor,
    room: Room,
    text: string,
    clientMessageId: string,
    files: readonly string[] = [],
    parentId?: string,
  ): Promise<Message> {
    const { storage, notifier } = this.deps;
    const rate = this.deps.limits.messageRateLimit;
    if (!(await storage.takeRateToken(`message:${actor.id}`, rate, rate))) {
      throw new ChatError(
        'SB_CHAT_RATE_LIMITED',
        `At most ${rate} messages per second per user, on all devices together.`,
        // With at least one token per second, the next one comes within a second.
        { retryAfterSeconds: 1 },
      );
    }
    if (room.kind === 'direct') {
      const others = (await storage.memberIds(room.id)).filter((u) => u !== actor.id);
      if ((await storage.blockersOf(actor.id, others)).length > 0) {
        throw new ChatError('SB_CHAT_BLOCKED', 'Someone in this conversation blocked you.');
      }
    }
    if (room.archived) throw archivedRoom();
    if (files.length > 0) await this.attachments!.checkAttachable(actor, room.id, files, clientMessageId);
    let { message, created } = await storage.insertMessage({
      id: this.deps.newId(),
      roomId: room.id,
      senderId: actor.id,
      text,
      mentions: await this.mentions(room.id, text, actor.id),
      clientMessageId,
      sentAt: this.deps.now(),
      parentId: parentId ?? null,
    });
    if (created && files.length > 0) {
      await this.attachments!.attach(actor, room.id, message.id, files);
      message = (await storage.messageById(message.id)) ?? message;
    }
    if (created) {
      this.deps.counters.messagesStored++;
      await notifier.toRoom(room.id, 'messageReceived', message);
      if (message.parentId) await this.threadReplied(actor, message);
    }
    return message;
  }

  /** Called with every new reply once it was delivered (thread states, thread-states.ts). */
  readonly replyListeners: ((reply: Message) => Promise<void>)[] = [];

  /** Tells the room a thread's new reply count, and the sender's devices their marker in it. */
  private async threadReplied(actor: Actor, reply: Message): Promise<void> {
    const parent = await this.deps.storage.messageById(reply.parentId!);
    if (!parent) return;
    // A listener that fails (its storage read) does not fail the send: the reply is stored and delivered.
    for (const listener of this.replyListeners) await listener(reply).catch(() => undefined);
    await this.deps.notifier.toRoom(reply.roomId, 'threadUpdated', {
      roomId: reply.roomId,
      messageId: parent.id,
      replyCount: parent.replyCount ?? 0,
      lastReplySeq: parent.lastReplySeq ?? 0,
      changeSeq: parent.changeSeq,
    });
    const lastReadSeq = (await this.deps.storage.threadReadSeq(parent.id, actor.id)) ?? 0;
    await this.deps.notifier.toUsers([actor.id], 'threadReadUpdated', {
      roomId: reply.roomId,
      messageId: parent.id,
      lastReadSeq,
    });
  }

  /** Changes the text of the caller's own message. */
  async editMessage(actor: Actor, args: unknown): Promise<Message> {
    const input = object(args, 'edit');
    const message = await this.visibleMessage(actor, input.messageId);
    const text = this.text(input);
    if (message.senderId !== actor.id) throw forbidden('Only the author edits a message.');
    if (message.deleted) throw notFound('This message was deleted.');
    await refuseIfArchived(this.deps, message.roomId);
    const edited = await this.deps.storage.editMessage(
      message.id,
      text,
      await this.mentions(message.roomId, text, actor.id),
      this.deps.now(),
    );
    await this.deps.notifier.toRoom(edited.roomId, 'messageEdited', edited);
    return edited;
  }

  /** Deletes a message (author, room owner or admin): its text is gone from storage and history. */
  async deleteMessage(actor: Actor, args: unknown): Promise<Message> {
    const input = object(args, 'delete');
    const message = await this.visibleMessage(actor, input.messageId);
    if (message.deleted) return message;
    const room = (await this.deps.storage.roomById(message.roomId))!;
    if (message.senderId !== actor.id && room.ownerId !== actor.id && actor.role !== 'admin') {
      throw forbidden("Only the author, the room's owner or an admin deletes a message.");
    }
    if (room.archived) throw archivedRoom();
    return this.removeMessage(message);
  }

  /**
   * Deletes a message on the host app's word (`DELETE /api/v1/messages/{id}`): no author or
   * membership rule; `SB_CHAT_NOT_FOUND` for an unknown message.
   */
  async deleteAsServer(messageId: string): Promise<Message> {
    const message = await this.deps.storage.messageById(messageId);
    if (!message) throw notFound('No such message.');
    if (message.deleted) return message;
    return this.removeMessage(message);
  }

  /** Removes a message's text and files and tells the room. */
  private async removeMessage(message: Message): Promise<Message> {
    const { attachments: _files, ...deleted } = await this.deps.storage.deleteMessage(
      message.id,
      this.deps.now(),
    );
    // A deleted message's files go with it.
    await this.attachments?.removeOfMessage(message.id);
    await this.deps.notifier.toRoom(deleted.roomId, 'messageDeleted', {
      roomId: deleted.roomId,
      messageId: deleted.id,
      seq: deleted.seq,
      changeSeq: deleted.changeSeq,
    });
    return deleted;
  }

  /**
   * Adds the caller's emoji to a message, or takes it away when it was there. Exactly one emoji
   * (`SB_CHAT_INVALID_REACTION`), at most {@link MAX_DISTINCT_REACTIONS} different ones per message
   * (`SB_CHAT_TOO_MANY_REACTIONS`).
   */
  async react(actor: Actor, args: unknown): Promise<Reaction[]> {
    const input = object(args, 'reaction');
    const message = await this.visibleMessage(actor, input.messageId);
    const emoji = reactionEmoji(input.emoji);
    if (message.deleted) throw notFound('This message was deleted.');
    await refuseIfArchived(this.deps, message.roomId);
    const reactions = await this.deps.storage.toggleReaction(
      message.id,
      actor.id,
      emoji,
      this.deps.now(),
      MAX_DISTINCT_REACTIONS,
    );
    // The row's change number with reactions read after it: never older than the number says.
    const current = (await this.deps.storage.messageById(message.id)) ?? { ...message, reactions };
    await this.deps.notifier.toRoom(message.roomId, 'reactionsChanged', {
      roomId: message.roomId,
      messageId: message.id,
      reactions: current.reactions,
      changeSeq: current.changeSeq,
    });
    return reactions;
  }

  /** A page of history in ascending seq: the newest `limit`, or before/after a seq. */
  async getHistory(actor: Actor, args: unknown): Promise<Message[]> {
    const input = object(args, 'query');
    const room = await this.rooms.requireMember(actor, input.roomId);
    const limit = optionalInteger(input, 'limit', HISTORY_LIMITS.max) ?? HISTORY_LIMITS.default;
    if (limit === 0) throw invalid('limit', `must be an integer from 1 to ${HISTORY_LIMITS.max}`);
    const beforeSeq = optionalInteger(input, 'beforeSeq');
    const afterSeq = optionalInteger(input, 'afterSeq');
    return this.deps.storage.history(room.id, { beforeSeq, afterSeq, limit });
  }

  /**
   * Messages by seq range, with where the room stands: `{roomId, fromSeq?, toSeq?, messageId?,
   * limit?}`. From `fromSeq` (or the message `messageId`) up, to `toSeq` when given; else the
   * `limit` messages up to `toSeq`; else the newest.
   * The change cursor is read before the messages, so every change after it is in `getChanges`.
   */
  async getMessages(actor: Actor, args: unknown): Promise<MessagesPage> {
    const input = object(args, 'query');
    const room = await this.rooms.requireMember(actor, input.roomId);
    const limit = optionalInteger(input, 'limit', HISTORY_LIMITS.max) ?? HISTORY_LIMITS.max;
    if (limit === 0) throw invalid('limit', `must be an integer from 1 to ${HISTORY_LIMITS.max}`);
    let fromSeq = optionalInteger(input, 'fromSeq');
    const toSeq = optionalInteger(input, 'toSeq');
    if (input.messageId !== undefined && input.messageId !== null) {
      // A link to one message: from that message on.
      const message = await this.deps.storage.messageById(id(input.messageId, 'messageId'));
      if (!message || message.roomId !== room.id) throw notFound('No such message in this room.');
      fromSeq = message.seq;
    }
    const position = (await this.deps.storage.roomPosition(room.id)) ?? { lastSeq: 0, changeCursor: 0 };
    const messages = await this.deps.storage.history(room.id, {
      afterSeq: fromSeq === undefined ? undefined : Math.max(0, fromSeq - 1),
      beforeSeq: toSeq === undefined ? undefined : toSeq + 1,
      limit,
    });
    return { roomId: room.id, messages, lastSeq: position.lastSeq, cursor: position.changeCursor };
  }

  /**
   * The current state of the messages edited, deleted or reacted to after a change cursor:
   * `{roomId, since}`. `reload: true` when the cursor is older than the change log keeps (30 days):
   * the caller loads the room anew.
   */
  async getChanges(actor: Actor, args: unknown): Promise<ChangesPage> {
    const input = object(args, 'query');
    const room = await this.rooms.requireMember(actor, input.roomId);
    const since = optionalInteger(input, 'since');
    if (since === undefined) throw invalid('since', 'is required');
    const page = await this.deps.storage.changesSince(room.id, since, CHANGES_PAGE);
    return {
      roomId: room.id,
      cursor: page.cursor,
      messages: page.messages,
      more: page.more,
      reload: page.expired,
    };
  }

  /** Full-text search over the caller's rooms (or one of them), newest first. */
  async searchMessages(actor: Actor, args: unknown): Promise<Message[]> {
    const input = object(args, 'query');
    const query = string(input, 'query', { max: 200, trim: true });
    let roomId: string | undefined;
    if (input.roomId !== undefined && input.roomId !== null) {
      roomId = (await this.rooms.requireMember(actor, input.roomId)).id;
    }
    return this.deps.storage.searchMessages(actor.id, query, roomId, 50);
  }

  /** Moves the caller's read marker and tells every device of the caller. */
  async markRead(actor: Actor, args: unknown): Promise<ReadState> {
    const input = object(args, 'read');
    const room = await this.rooms.requireMember(actor, input.roomId);
    const seq = optionalInteger(input, 'seq');
    if (seq === undefined) throw invalid('seq', 'is required');
    const state = await this.deps.storage.markRead(room.id, actor.id, seq);
    await this.deps.notifier.toUsers([actor.id], 'readUpdated', state);
    return state;
  }

  /**
   * Tells the room the caller is typing. Never fails (clients send it without waiting): beyond its
   * rate, or outside the caller's rooms, it is dropped and counted. Returns whether it went out.
   */
  async typing(actor: Actor, roomId: unknown, connectionId: string): Promise<boolean> {
    // TYPING_RATE_LIMIT holds per user across every node: a token bucket in the storage. This node's
    // own bucket, at the same rate, drops a flood before it costs a storage round trip (a node
    // never lets through more than the whole cluster may).
    if (typeof roomId !== 'string' || this.typingLimiter.take(actor.id) > 0) return this.dropTyping();
    const rate = this.deps.limits.typingRateLimit;
    if (!(await this.deps.storage.takeRateToken(`typing:${actor.id}`, rate, rate * 3)))
      return this.dropTyping();
    const room = await this.deps.storage.roomById(roomId);
    if (!room || !(await this.deps.storage.isMember(roomId, actor.id))) return this.dropTyping();
    await this.deps.notifier.toRoomExcept(roomId, connectionId, 'typing', { roomId, userId: actor.id });
    return true;
  }

  private dropTyping(): false {
    this.deps.counters.typingDropped++;
    return false;
  }

  private text(input: Record<string, unknown>): string {
    const text = input.text;
    if (typeof text !== 'string' || text.trim().length === 0)
      throw invalid('text', 'must be a non-empty string');
    const max = this.deps.limits.maxMessageLength;
    if (text.length > max) {
      throw new ChatError('SB_CHAT_MESSAGE_TOO_LONG', `A message has at most ${max} characters.`, {
        field: 'text',
      });
    }
    return text;
  }

  /** A message in a room the caller is a member of. */
  private async visibleMessage(actor: Actor, messageId: unknown): Promise<Message> {
    const message = await this.deps.storage.messageById(id(messageId, 'messageId'));
    if (!message) throw notFound('No such message.');
    await this.rooms.requireMember(actor, message.roomId);
    return message;
  }

  /** The members named `@username` in the text, except those who blocked the sender (no notice). */
  private async mentions(roomId: string, text: string, senderId: string): Promise<string[]> {
    const names = new Set([...text.matchAll(/@([a-zA-Z0-9_.-]{3,32})/g)].map((m) => m[1]!.toLowerCase()));
    if (names.size === 0) return [];
    const members = await this.deps.storage.roomMembers(roomId);
    const named = members.filter((m) => names.has(m.username)).map((m) => m.id);
    const blockers = new Set(await this.deps.storage.blockersOf(senderId, named));
    return named.filter((uid) => !blockers.has(uid));
  }
}
