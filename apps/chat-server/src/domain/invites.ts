/**
 * Invite links: a room's owner or an admin creates a link (a random token, an expiry and a use
 * limit), lists and revokes them; anyone signed in with an account (never a guest: guests are never
 * room members) joins the room with an active link, private rooms included. A link that expired,
 * was used up or was revoked is refused with its own code. Archived rooms take no new links and let
 * nobody in.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ChatError, forbidden, notFound } from '../errors.js';
import type { InviteRecord } from '../storage/room-extras.js';
import { INVITE_LIMITS, type InviteStatus, type Room, type RoomInvite } from '../types.js';
import type { Actor, ServiceDeps } from './ports.js';
import { archivedRoom, managedRoom } from './room-settings.js';
import type { RoomService } from './rooms.js';
import { id, invalid, object, optionalInteger } from './validate.js';

/** Tokens: 32 characters of base64url (24 random bytes). */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/** Invite links. */
export class InviteService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
  ) {}

  /** `{roomId, expiresInSeconds?, maxUses?}` (owner or admin): a new link. */
  async createInvite(actor: Actor, args: unknown): Promise<RoomInvite> {
    const input = object(args, 'invite');
    const room = await managedRoom(this.deps, actor, input.roomId);
    if (room.archived) throw archivedRoom();
    const seconds = optionalInteger(input, 'expiresInSeconds', INVITE_LIMITS.maxSeconds);
    const maxUses = optionalInteger(input, 'maxUses', INVITE_LIMITS.maxUses);
    if (seconds === 0) throw invalid('expiresInSeconds', `must be from 1 to ${INVITE_LIMITS.maxSeconds}`);
    if (maxUses === 0) throw invalid('maxUses', `must be from 1 to ${INVITE_LIMITS.maxUses}`);
    const createdAt = this.deps.now();
    const expiresAt = new Date(
      Date.parse(createdAt) + (seconds ?? INVITE_LIMITS.defaultSeconds) * 1000,
    ).toISOString();
    const record = await this.deps.storage.insertInvite({
      id: this.deps.newId(),
      token: randomBytes(24).toString('base64url'),
      roomId: room.id,
      createdBy: actor.id,
      createdAt,
      expiresAt,
      maxUses: maxUses ?? INVITE_LIMITS.defaultUses,
    });
    return this.wire(record);
  }

  /** A room's links, newest first (owner or admin). */
  async listInvites(actor: Actor, roomId: unknown): Promise<RoomInvite[]> {
    const room = await managedRoom(this.deps, actor, roomId);
    return (await this.deps.storage.invitesOfRoom(room.id)).map((r) => this.wire(r));
  }

  /** Revokes a link of a room the caller manages: `inviteId`; answers it as it is now. */
  async revokeInvite(actor: Actor, inviteId: unknown): Promise<RoomInvite> {
    const invite = await this.deps.storage.inviteById(id(inviteId, 'inviteId'));
    if (!invite) throw notFound('No such invite link.');
    await managedRoom(this.deps, actor, invite.roomId);
    await this.deps.storage.revokeInvite(invite.id, this.deps.now());
    return this.wire((await this.deps.storage.inviteById(invite.id))!);
  }

  /**
   * Joins the room of an active link: `token`. A member already in the room takes no use. Answers
   * the room.
   */
  async acceptInvite(actor: Actor, token: unknown): Promise<Room> {
    if (typeof token !== 'string' || !TOKEN.test(token)) throw invalid('token', 'is not an invite token');
    if (actor.isGuest)
      throw forbidden(
        'Guests cannot join rooms with an invite link; sign up or sign in with an account to join.',
      );
    const { storage } = this.deps;
    const invite = await storage.inviteByToken(token);
    if (!invite) throw notFound('No such invite link.');
    const room = await storage.roomById(invite.roomId);
    if (!room) throw notFound('No such invite link.');
    if (room.archived) throw archivedRoom();
    if (await storage.isMember(room.id, actor.id)) return room;
    const now = this.deps.now();
    if ((await storage.useInvite(token, now)) === undefined) {
      throw this.refusal(this.status((await storage.inviteByToken(token)) ?? invite, now));
    }
    if (await storage.addMember(room.id, actor.id, now)) await this.rooms.joined(room, actor.id);
    return room;
  }

  private refusal(status: InviteStatus): ChatError {
    switch (status) {
      case 'revoked':
        return new ChatError('SB_CHAT_INVITE_REVOKED', 'This invite link was revoked.');
      case 'usedUp':
        return new ChatError('SB_CHAT_INVITE_USED_UP', 'This invite link was used as often as it allows.');
      default:
        return new ChatError('SB_CHAT_INVITE_EXPIRED', 'This invite link has expired.');
    }
  }

  private status(r: InviteRecord, now: string): InviteStatus {
    if (r.revokedAt) return 'revoked';
    if (r.uses >= r.maxUses) return 'usedUp';
    if (Date.parse(r.expiresAt) <= Date.parse(now)) return 'expired';
    return 'active';
  }

  private wire(r: InviteRecord): RoomInvite {
    return { ...r, path: `/invite/${r.token}`, status: this.status(r, this.deps.now()) };
  }
}
