/**
 * Threads: a message's replies (messages sent with its id as `parentId`, which are also ordinary
 * messages of the room), and each member's read marker in a thread, apart from the room's. Only
 * members of the room read a thread or move their marker in it.
 * @module
 */
import { notFound } from '../errors.js';
import type { Message, ThreadPage, ThreadRead } from '../types.js';
import { HISTORY_LIMITS } from './messages.js';
import type { Actor, ServiceDeps } from './ports.js';
import type { RoomService } from './rooms.js';
import { id, invalid, object, optionalInteger } from './validate.js';

/** Reading threads and their read markers. */
export class ThreadService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
  ) {}

  /**
   * A thread: `{messageId, afterSeq?, limit?}` (limit 200 by default and at most). `messageId` may
   * be the thread's first message or any reply in it. A deleted first message still opens its
   * thread (as a tombstone).
   */
  async getThread(actor: Actor, args: unknown): Promise<ThreadPage> {
    const input = object(args, 'query');
    const parent = await this.threadParent(actor, input.messageId);
    const limit = optionalInteger(input, 'limit', HISTORY_LIMITS.max) ?? HISTORY_LIMITS.max;
    if (limit === 0) throw invalid('limit', `must be an integer from 1 to ${HISTORY_LIMITS.max}`);
    const afterSeq = optionalInteger(input, 'afterSeq') ?? 0;
    const replies = await this.deps.storage.threadReplies(parent.id, afterSeq, limit + 1);
    return {
      roomId: parent.roomId,
      parent,
      replies: replies.slice(0, limit),
      more: replies.length > limit,
      lastReadSeq: (await this.deps.storage.threadReadSeq(parent.id, actor.id)) ?? 0,
    };
  }

  /**
   * Moves the caller's read marker in a thread forward: `{messageId, seq}` (a reply's seq; never
   * past the newest reply), and tells every device of the caller (`threadReadUpdated`).
   */
  async markThreadRead(actor: Actor, args: unknown): Promise<ThreadRead> {
    const input = object(args, 'read');
    const parent = await this.threadParent(actor, input.messageId);
    const seq = optionalInteger(input, 'seq');
    if (seq === undefined) throw invalid('seq', 'is required');
    const target = Math.min(seq, parent.lastReplySeq ?? 0);
    const lastReadSeq = await this.deps.storage.markThreadRead(parent.id, actor.id, parent.roomId, target);
    const read = { messageId: parent.id, lastReadSeq };
    await this.deps.notifier.toUsers([actor.id], 'threadReadUpdated', { roomId: parent.roomId, ...read });
    return read;
  }

  /** The caller's read markers in the threads of a room: `roomId`. */
  async listThreadReads(actor: Actor, roomId: unknown): Promise<ThreadRead[]> {
    const room = await this.rooms.requireMember(actor, roomId);
    return this.deps.storage.threadReads(room.id, actor.id);
  }

  /** The first message of the thread `messageId` is in, in a room the caller is a member of. */
  private async threadParent(actor: Actor, messageId: unknown): Promise<Message> {
    const message = await this.deps.storage.messageById(id(messageId, 'messageId'));
    if (!message) throw notFound('No such message.');
    await this.rooms.requireMember(actor, message.roomId);
    if (!message.parentId) return message;
    const parent = await this.deps.storage.messageById(message.parentId);
    if (!parent) throw notFound('No such message.');
    return parent;
  }
}
