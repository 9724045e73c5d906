/**
 * Threads' own unread state and notifications for the people in a thread: the author of its first
 * message and everyone who replied (reading a thread alone does not put one in it).
 * `listThreadStates` answers the caller's threads of a room with what is unread; each new reply
 * sends `threadActivity` (the reply and the receiver's state) to every other person in the thread,
 * on every node, so their devices show the thread unread and may notify.
 * @module
 */
import type { Message, ThreadState } from '../types.js';
import type { Actor, ServiceDeps } from './ports.js';
import type { RoomService } from './rooms.js';

/** Thread states. */
export class ThreadStateService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
  ) {}

  /** The caller's states in the threads of a room they are a member of (`roomId`). */
  async listThreadStates(actor: Actor, roomId: unknown): Promise<ThreadState[]> {
    const room = await this.rooms.requireMember(actor, roomId);
    return this.deps.storage.threadStates(room.id, actor.id);
  }

  /** Tells every other person in the reply's thread (still a member of the room) about it. */
  async replied(reply: Message): Promise<void> {
    if (!reply.parentId) return;
    const { storage, notifier } = this.deps;
    const people = await storage.threadParticipants(reply.parentId);
    const members = new Set(await storage.memberIds(reply.roomId));
    for (const userId of people) {
      if (userId === reply.senderId || !members.has(userId)) continue;
      const [state] = await storage.threadStates(reply.roomId, userId, reply.parentId);
      if (state) await notifier.toUsers([userId], 'threadActivity', { state, reply });
    }
  }
}
