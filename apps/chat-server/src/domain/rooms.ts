/**
 * Rooms, membership, direct conversations, blocking and presence queries, with their rules:
 * only members see a room's members; public rooms are joined freely, private ones by invitation
 * from a member (never guests); only the owner or an admin removes members; a user blocked by
 * someone cannot open a direct or group conversation with them nor invite them to a room; presence
 * only for users who share a room with the caller.
 * @module
 */
import { ChatError, forbidden, notFound } from '../errors.js';
import type { Presence, Room, RoomSummary, User } from '../types.js';
import type { Actor, ServiceDeps } from './ports.js';
import { presenceStatus } from './profiles.js';
import { type Input, id, idList, object, optionalBoolean, string, visibleName } from './validate.js';

/** Room names: 1 to 80 characters. */
export const MAX_ROOM_NAME = 80;

/** Rooms and membership. */
export class RoomService {
  constructor(private readonly deps: ServiceDeps) {}

  /** The caller's rooms with unread and mention counts and the last message. */
  listRooms(actor: Actor): Promise<RoomSummary[]> {
    return this.deps.storage.roomSummaries(actor.id);
  }

  /** Every public room. */
  listPublicRooms(): Promise<Room[]> {
    return this.deps.storage.publicRooms(500);
  }

  /** Users (not guests) whose username or display name contains `query`. */
  async searchUsers(actor: Actor, query: unknown): Promise<User[]> {
    if (actor.isGuest) throw forbidden('Guests cannot search users.');
    const q = string({ query }, 'query', { max: 64, trim: true });
    return this.deps.storage.searchUsers(q, 20);
  }

  /** A room of which the caller is a member, or `SB_CHAT_FORBIDDEN` (the same for a missing room). */
  async requireMember(actor: Actor, roomId: unknown, field = 'roomId'): Promise<Room> {
    const rid = id(roomId, field);
    const room = await this.deps.storage.roomById(rid);
    if (!room || !(await this.deps.storage.isMember(rid, actor.id))) {
      throw forbidden('You are not a member of this room.');
    }
    // A guest is a support customer: their own support conversation is the only one they act in,
    // whatever membership an older version may have stored.
    if (actor.isGuest && room.kind !== 'support') throw forbidden('Guests only take part in support.');
    return room;
  }

  /**
   * People by id, for showing names: only those who share a room with the caller or wrote in one
   * of the caller's rooms (an agent who left a support conversation is still named in it). Others
   * are left out of the answer, not refused.
   */
  async getUsers(actor: Actor, userIds: unknown): Promise<User[]> {
    const ids = [...new Set(idList(userIds, 'userIds', 200))];
    const { storage } = this.deps;
    const visible = new Set([actor.id, ...(await storage.sharingRoomWith(actor.id, ids))]);
    const rest = ids.filter((u) => !visible.has(u));
    for (const u of await storage.sendersSeenBy(actor.id, rest)) visible.add(u);
    return storage.usersByIds(ids.filter((u) => visible.has(u)));
  }

  /** Creates a room owned by the caller. */
  async createRoom(actor: Actor, args: unknown): Promise<Room> {
    if (actor.isGuest) throw forbidden('Guests cannot create rooms.');
    const input = object(args, 'room');
    const name = visibleName(input, 'name', MAX_ROOM_NAME);
    const isPrivate = optionalBoolean(input, 'isPrivate') ?? false;
    const { storage, limits } = this.deps;
    if ((await storage.countOwnedRooms(actor.id)) >= limits.maxRoomsPerUser) {
      throw new ChatError(
        'SB_CHAT_ROOM_LIMIT',
        `You already own ${limits.maxRoomsPerUser} rooms, the most allowed.`,
      );
    }
    const room = await storage.createRoom(
      { id: this.deps.newId(), name, isPrivate, kind: 'room', ownerId: actor.id, createdAt: this.deps.now() },
      [actor.id],
    );
    await this.joined(room, actor.id);
    return room;
  }

  /** Joins a public room. */
  async joinRoom(actor: Actor, roomId: unknown): Promise<Room> {
    const rid = id(roomId, 'roomId');
    const room = await this.deps.storage.roomById(rid);
    if (!room || room.kind !== 'room' || room.isPrivate || actor.isGuest) {
      throw forbidden('This room cannot be joined; private rooms need an invitation.');
    }
    if (await this.deps.storage.addMember(rid, actor.id, this.deps.now())) await this.joined(room, actor.id);
    return room;
  }

  /** Leaves a room. */
  async leaveRoom(actor: Actor, roomId: unknown): Promise<void> {
    const room = await this.requireMember(actor, roomId);
    await this.remove(room, actor.id, 'left');
  }

  /**
   * Adds a user to a room the caller is a member of (not direct or support rooms). Guests are never
   * invited (nor invite), and nobody invites a user who blocked them.
   */
  async inviteToRoom(actor: Actor, roomId: unknown, userId: unknown): Promise<void> {
    if (actor.isGuest) throw forbidden('Guests cannot invite.');
    const room = await this.requireMember(actor, roomId);
    const uid = id(userId, 'userId');
    if (room.kind !== 'room') throw forbidden('Nobody can be invited to a direct or support conversation.');
    const invitee = await this.deps.storage.userById(uid);
    if (!invitee) throw notFound('No such user.');
    if (invitee.isGuest)
      throw forbidden('Guests cannot be invited to rooms; they take part in support only.');
    if ((await this.deps.storage.blockersOf(actor.id, [uid])).length > 0) {
      throw new ChatError('SB_CHAT_BLOCKED', 'You cannot invite someone who blocked you.');
    }
    if (await this.deps.storage.addMember(room.id, uid, this.deps.now())) await this.joined(room, uid);
  }

  /** Removes a member: the room's owner or an admin only. */
  async removeFromRoom(actor: Actor, roomId: unknown, userId: unknown): Promise<void> {
    const room = await this.requireMember(actor, roomId);
    const uid = id(userId, 'userId');
    if (room.ownerId !== actor.id && actor.role !== 'admin') {
      throw forbidden("Only the room's owner or an admin removes members.");
    }
    if (room.kind !== 'room')
      throw forbidden('Members of direct and support conversations cannot be removed.');
    if (!(await this.deps.storage.isMember(room.id, uid))) throw notFound('This user is not a member.');
    await this.remove(room, uid, 'removed');
  }

  /** The members of a room the caller is in. */
  async listRoomMembers(actor: Actor, roomId: unknown): Promise<User[]> {
    const room = await this.requireMember(actor, roomId);
    return this.deps.storage.roomMembers(room.id);
  }

  /**
   * The direct conversation of the caller with `userIds` (one or more others; the caller alone is a
   * note to self). The same set of people always gives the same room.
   */
  async openDirect(actor: Actor, userIds: unknown): Promise<Room> {
    if (actor.isGuest) throw forbidden('Guests cannot open direct conversations.');
    const others = [...new Set(idList(userIds, 'userIds', 20))].filter((u) => u !== actor.id);
    const { storage } = this.deps;
    const users = await storage.usersByIds(others);
    if (users.length !== others.length) throw notFound('No such user.');
    if ((await storage.blockersOf(actor.id, others)).length > 0) {
      throw new ChatError(
        'SB_CHAT_BLOCKED',
        'You cannot open a direct conversation with someone who blocked you.',
      );
    }
    const members = [actor.id, ...others].sort();
    const key = members.join(',');
    const existing = await storage.directRoomByKey(key);
    if (existing) {
      if (await storage.addMember(existing.id, actor.id, this.deps.now()))
        await this.joined(existing, actor.id);
      return existing;
    }
    const names = [actor, ...users].map((u) => u.displayName).join(', ');
    const room = await storage.createRoom(
      {
        id: this.deps.newId(),
        name: names.slice(0, 200),
        isPrivate: true,
        kind: 'direct',
        ownerId: null,
        directKey: key,
        createdAt: this.deps.now(),
      },
      members,
    );
    for (const member of members) await this.joined(room, member, false);
    return room;
  }

  /**
   * Blocks a user: they can no longer open or write to a direct or group conversation with the
   * caller, invite the caller to a room, or notify the caller with a mention.
   */
  async blockUser(actor: Actor, userId: unknown): Promise<void> {
    const uid = id(userId, 'userId');
    if (uid === actor.id) throw forbidden('You cannot block yourself.');
    if (!(await this.deps.storage.userById(uid))) throw notFound('No such user.');
    await this.deps.storage.block(actor.id, uid, this.deps.now());
  }

  /** Lifts a block. */
  async unblockUser(actor: Actor, userId: unknown): Promise<void> {
    await this.deps.storage.unblock(actor.id, id(userId, 'userId'));
  }

  /** Presence of users who share a room with the caller (an agent shares one with each customer). */
  async getPresence(actor: Actor, userIds: unknown): Promise<Presence[]> {
    const ids = [...new Set(idList(userIds, 'userIds', 200))];
    const others = ids.filter((u) => u !== actor.id);
    const visible = new Set(await this.deps.storage.sharingRoomWith(actor.id, others));
    if (others.some((u) => !visible.has(u))) {
      throw forbidden('Presence is only shown for people who share a room with you.');
    }
    const result: Presence[] = [];
    for (const uid of ids) {
      const user = await this.deps.storage.userById(uid);
      const online = await this.deps.notifier.isOnline(uid);
      result.push({
        userId: uid,
        online,
        lastSeenAt: user?.lastSeenAt ?? null,
        status: presenceStatus(online, user?.away),
      });
    }
    return result;
  }

  /** Groups and notices for a new member. */
  async joined(room: Room, userId: string, announce = true): Promise<void> {
    const { notifier } = this.deps;
    await notifier.addToRoom(userId, room.id);
    await notifier.toUsers([userId], 'roomUpdated', { room, change: 'joined', userId });
    if (announce) await notifier.toRoom(room.id, 'roomUpdated', { room, change: 'memberJoined', userId });
  }

  /** Takes a member out, with groups and notices. */
  async remove(room: Room, userId: string, change: 'left' | 'removed'): Promise<void> {
    const { storage, notifier } = this.deps;
    await storage.removeMember(room.id, userId);
    await notifier.removeFromRoom(userId, room.id);
    await notifier.toUsers([userId], 'roomUpdated', { room, change, userId });
    await notifier.toRoom(room.id, 'roomUpdated', { room, change: 'memberLeft', userId });
  }
}

/** Reads the `{ roomId }`-style argument objects the hub receives. */
export function args(value: unknown, name: string): Input {
  return object(value, name);
}

/**
 * Tells everyone who shares a room with `userId` that they came online or went offline (called
 * once per cluster-wide transition, from the server's presence events).
 */
export async function announcePresence(
  deps: ServiceDeps,
  userId: string,
  online: boolean,
  lastSeenAt: string | null,
  away = false,
): Promise<void> {
  const contacts = await deps.storage.contactsOf(userId);
  const status = presenceStatus(online, away);
  if (contacts.length > 0)
    await deps.notifier.toUsers(contacts, 'presenceChanged', { userId, online, lastSeenAt, status });
}
