/**
 * The chat hub at `/hubs/chat`. Each method reads its caller, hands the arguments to a domain
 * service (which checks them and the rules) and returns the result; refusals become
 * `HubException`s through the chat's error filter. On connect the connection joins the groups of
 * all the user's rooms, the user's own group, its token's group and, for agents, the `agents`
 * group. Presence is the server's (see `chat-presence.ts`), not tracked here.
 * @module
 */
import { Hub, type Logger } from '@switchboard/server';
import type { AdminStatsService } from '../admin/admin-stats.js';
import type { MessageService } from '../domain/messages.js';
import type { Actor, ChatClient, ServiceDeps } from '../domain/ports.js';
import { isAgent } from '../domain/ports.js';
import type { ProfileService } from '../domain/profiles.js';
import type { RoomSettingsService } from '../domain/room-settings.js';
import type { RoomService } from '../domain/rooms.js';
import type { SupportService } from '../domain/support.js';
import type { ThreadService } from '../domain/threads.js';
import { forbidden } from '../errors.js';
import { AGENTS_GROUP, roomGroup, tokenGroup, userGroup } from './hub-notifier.js';
import type { RoomExtrasHubDeps } from './room-extras-hub.js';

/** What the hub needs. */
export interface ChatHubDeps {
  readonly services: ServiceDeps;
  readonly rooms: RoomService;
  readonly messages: MessageService;
  readonly threads: ThreadService;
  readonly support: SupportService;
  readonly logger: Logger;
  /** Room settings (absent: `updateRoom` is refused). */
  readonly roomSettings?: RoomSettingsService;
  /** Profiles (absent: `setAway` is refused). */
  readonly profiles?: ProfileService;
  /** The admin view (absent: `watchAdminStats` is refused). */
  readonly admin?: () => AdminStatsService | undefined;
  /** Favourites, invite links and thread states (see hub/room-extras-hub.ts). */
  readonly extras: RoomExtrasHubDeps;
}

const ACTOR = Symbol('chat.actor');

/**
 * The chat hub. It takes its services in its constructor: map it with an activator,
 * `hubs.mapHub('/hubs/chat', ChatHub, { activator: () => new ChatHub(deps) })`.
 */
export class ChatHub extends Hub<ChatClient> {
  constructor(protected readonly deps: ChatHubDeps) {
    super();
  }

  override async onConnected(): Promise<void> {
    const { services } = this.deps;
    const user = this.context.userIdentifier
      ? await services.storage.userById(this.context.userIdentifier)
      : undefined;
    if (!user) throw forbidden('Unknown user.');
    const actor: Actor = {
      id: user.id,
      username: user.username,
      displayName: user.displayName,
      role: user.role,
      isGuest: user.isGuest,
    };
    this.context.items.set(ACTOR, actor);
    const cid = this.context.connectionId;
    const jti = this.context.user?.claims.jti;
    const groups = [userGroup(user.id), ...(isAgent(actor) ? [AGENTS_GROUP] : [])];
    if (typeof jti === 'string') groups.push(tokenGroup(jti));
    for (const roomId of await services.storage.roomIdsOf(user.id)) groups.push(roomGroup(roomId));
    await Promise.all(groups.map((g) => this.groups.add(cid, g)));
  }

  listRooms() {
    return this.deps.extras.favourites.listRooms(this._actor());
  }
  /** `{roomId, favourite}`: `{roomId, favourite}`; `favouriteUpdated` to the caller's devices. */
  setFavourite(args: unknown) {
    return this.deps.extras.favourites.setFavourite(this._actor(), args);
  }
  /** `{roomId, expiresInSeconds?, maxUses?}` (owner or admin): a `RoomInvite`. */
  createInvite(args: unknown) {
    return this.deps.extras.invites.createInvite(this._actor(), args);
  }
  /** `roomId` (owner or admin): the room's `RoomInvite`s, newest first. */
  listInvites(roomId: unknown) {
    return this.deps.extras.invites.listInvites(this._actor(), roomId);
  }
  /** `inviteId` (owner or admin): the revoked `RoomInvite`. */
  revokeInvite(inviteId: unknown) {
    return this.deps.extras.invites.revokeInvite(this._actor(), inviteId);
  }
  /** `token` (not a guest): joins the link's room and answers it. */
  acceptInvite(token: unknown) {
    return this.deps.extras.invites.acceptInvite(this._actor(), token);
  }
  /** `roomId` (a member): the caller's `ThreadState`s in the room. */
  listThreadStates(roomId: unknown) {
    return this.deps.extras.threadStates.listThreadStates(this._actor(), roomId);
  }
  listPublicRooms() {
    return this.deps.rooms.listPublicRooms();
  }
  searchUsers(query: unknown) {
    return this.deps.rooms.searchUsers(this._actor(), query);
  }
  getUsers(userIds: unknown) {
    return this.deps.rooms.getUsers(this._actor(), userIds);
  }
  createRoom(args: unknown) {
    return this.deps.rooms.createRoom(this._actor(), args);
  }
  /** `{roomId, name?, topic?, isPrivate?, archived?}` (owner or admin): the room as it is now. */
  updateRoom(args: unknown) {
    if (!this.deps.roomSettings) throw forbidden('Room settings are not available.');
    return this.deps.roomSettings.updateRoom(this._actor(), args);
  }
  joinRoom(roomId: unknown) {
    return this.deps.rooms.joinRoom(this._actor(), roomId);
  }
  leaveRoom(roomId: unknown) {
    return this.deps.rooms.leaveRoom(this._actor(), roomId);
  }
  inviteToRoom(roomId: unknown, userId: unknown) {
    return this.deps.rooms.inviteToRoom(this._actor(), roomId, userId);
  }
  removeFromRoom(roomId: unknown, userId: unknown) {
    return this.deps.rooms.removeFromRoom(this._actor(), roomId, userId);
  }
  listRoomMembers(roomId: unknown) {
    return this.deps.rooms.listRoomMembers(this._actor(), roomId);
  }
  openDirect(userIds: unknown) {
    return this.deps.rooms.openDirect(this._actor(), userIds);
  }
  sendMessage(args: unknown) {
    return this.deps.messages.sendMessage(this._actor(), args);
  }
  editMessage(args: unknown) {
    return this.deps.messages.editMessage(this._actor(), args);
  }
  deleteMessage(args: unknown) {
    return this.deps.messages.deleteMessage(this._actor(), args);
  }
  react(args: unknown) {
    return this.deps.messages.react(this._actor(), args);
  }
  getThread(args: unknown) {
    return this.deps.threads.getThread(this._actor(), args);
  }
  markThreadRead(args: unknown) {
    return this.deps.threads.markThreadRead(this._actor(), args);
  }
  listThreadReads(roomId: unknown) {
    return this.deps.threads.listThreadReads(this._actor(), roomId);
  }
  getHistory(args: unknown) {
    return this.deps.messages.getHistory(this._actor(), args);
  }
  getMessages(args: unknown) {
    return this.deps.messages.getMessages(this._actor(), args);
  }
  getChanges(args: unknown) {
    return this.deps.messages.getChanges(this._actor(), args);
  }
  searchMessages(args: unknown) {
    return this.deps.messages.searchMessages(this._actor(), args);
  }
  markRead(args: unknown) {
    return this.deps.messages.markRead(this._actor(), args);
  }
  async typing(roomId: unknown): Promise<void> {
    const sent = await this.deps.messages.typing(this._actor(), roomId, this.context.connectionId);
    if (!sent) this.deps.logger.debug('chat.typing.dropped', { code: 'SB_CHAT_TYPING_DROPPED' });
  }
  getPresence(userIds: unknown) {
    return this.deps.rooms.getPresence(this._actor(), userIds);
  }
  /** `{away}`: marks the caller away (or back); answers their presence, sent to their contacts. */
  setAway(args: unknown) {
    if (!this.deps.profiles) throw forbidden('Profiles are not available.');
    return this.deps.profiles.setAway(this._actor(), args);
  }
  blockUser(userId: unknown) {
    return this.deps.rooms.blockUser(this._actor(), userId);
  }
  unblockUser(userId: unknown) {
    return this.deps.rooms.unblockUser(this._actor(), userId);
  }
  openSupportRequest(args: unknown) {
    return this.deps.support.openSupportRequest(this._actor(), args);
  }
  listSupportQueue() {
    return this.deps.support.listSupportQueue(this._actor());
  }
  listAgents() {
    return this.deps.support.listAgents(this._actor());
  }
  claimSupportRequest(requestId: unknown) {
    return this.deps.support.claimSupportRequest(this._actor(), requestId);
  }
  transferSupportRequest(requestId: unknown, agentId: unknown) {
    return this.deps.support.transferSupportRequest(this._actor(), requestId, agentId);
  }
  closeSupportRequest(requestId: unknown) {
    return this.deps.support.closeSupportRequest(this._actor(), requestId);
  }

  /** Admins only: the cluster's numbers now, and `adminStats` pushed to this connection from now on. */
  watchAdminStats() {
    return this._admin().watch(this._actor(), this.context.connectionId);
  }
  /** Admins only: no more `adminStats` for this connection. */
  unwatchAdminStats() {
    return this._admin().unwatch(this._actor(), this.context.connectionId);
  }

  private _admin(): AdminStatsService {
    const admin = this.deps.admin?.();
    if (!admin) throw forbidden('The admin view is not available.');
    return admin;
  }

  /** The caller, as loaded on connect. */
  protected _actor(): Actor {
    const actor = this.context.items.get(ACTOR) as Actor | undefined;
    if (!actor) throw forbidden('Not signed in.');
    return actor;
  }
}
