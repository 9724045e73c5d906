/**
 * What the SQLite and PostgreSQL storages share: every read and single-statement write, over named
 * queries (`sql/queries.sql`). Each subclass supplies statement execution and the operations that
 * need a transaction (its own locking: SQLite runs them synchronously under BEGIN IMMEDIATE,
 * PostgreSQL on one pooled client under row locks).
 * @module
 */
import { ChatError } from '../errors.js';
import type {
  Message,
  Reaction,
  ReadState,
  Role,
  Room,
  RoomKind,
  RoomSummary,
  SupportRequest,
  SupportStatus,
  ThreadRead,
  ThreadState,
  User,
  UserRecord,
} from '../types.js';
import {
  type AttachmentRecord,
  attachmentUrl,
  avatarUrl,
  type NewAttachment,
  publicAttachment,
} from './attachments.js';
import type { InviteRecord, NewInvite } from './room-extras.js';
import {
  type ApiKeyInfo,
  CHANGE_RETENTION_MS,
  type ChangeKind,
  type ChangePage,
  type ChatStorage,
  type HistoryQuery,
  type HostUserRecord,
  type NewMessage,
  type NewRoom,
  type NewSupportRequest,
  type NewUser,
  type RoomPosition,
  type RoomSettingsChange,
  roomNameKey,
} from './storage.js';

/** A result row. */
export type Row = Record<string, unknown>;
/** Named parameters. */
export type Params = Record<string, unknown>;

const MAX_SEQ = 2_147_483_647;

/** The shared half of both SQL storages. */
export abstract class SqlStorage implements ChatStorage {
  abstract readonly kind: 'sqlite' | 'postgres';
  abstract migrate(): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
  abstract createRoom(room: NewRoom, memberIds: readonly string[]): Promise<Room>;
  abstract insertMessage(message: NewMessage): Promise<{ message: Message; created: boolean }>;
  abstract editMessage(
    id: string,
    text: string,
    mentions: readonly string[],
    editedAt: string,
  ): Promise<Message>;
  abstract deleteMessage(id: string): Promise<Message>;
  abstract toggleReaction(
    messageId: string,
    userId: string,
    emoji: string,
    at: string,
    maxDistinct?: number,
  ): Promise<Reaction[]>;

  /** Every row of a named query. */
  protected abstract all(name: string, params?: Params): Promise<Row[]>;
  /** Runs a named statement; resolves to the number of rows it changed. */
  protected abstract run(name: string, params?: Params): Promise<number>;
  /** A list of ids as the dialect's queries take it. */
  protected abstract idList(ids: readonly string[]): unknown;
  /** The user's search words as the dialect's search query takes them ('' when nothing to find). */
  protected abstract searchExpression(query: string): string;

  protected async get(name: string, params?: Params): Promise<Row | undefined> {
    return (await this.all(name, params))[0];
  }

  async getOrCreateSetting(key: string, value: string): Promise<string> {
    await this.run('insertSettingIfAbsent', { key, value });
    return String((await this.get('settingByKey', { key }))!.value);
  }

  async createUser(user: NewUser): Promise<UserRecord> {
    const inserted = await this.get('insertUser', { ...user, username: user.username.toLowerCase() });
    if (!inserted)
      throw new ChatError('SB_CHAT_USERNAME_TAKEN', 'This username is taken.', { field: 'username' });
    return (await this.userById(user.id))!;
  }
  async userById(id: string): Promise<UserRecord | undefined> {
    const row = await this.get('userById', { id });
    return row && toUser(row);
  }
  async userByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.get('userByUsername', { username: username.toLowerCase() });
    return row && toUser(row);
  }
  async usersByIds(ids: readonly string[]): Promise<User[]> {
    if (ids.length === 0) return [];
    return (await this.all('usersByIds', { ids: this.idList(ids) })).map((r) => publicUser(toUser(r)));
  }
  async searchUsers(query: string, limit: number): Promise<User[]> {
    const pattern = `%${query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return (await this.all('searchUsers', { pattern, limit })).map((r) => publicUser(toUser(r)));
  }
  async setPassword(userId: string, passwordHash: string): Promise<number> {
    const row = await this.get('setPassword', { id: userId, passwordHash });
    return Number(row?.token_version ?? 0);
  }
  async setRole(userId: string, role: Role): Promise<void> {
    await this.run('setRole', { id: userId, role });
  }
  async setDisplayName(userId: string, displayName: string): Promise<void> {
    await this.run('setDisplayName', { id: userId, displayName });
  }
  async setAvatar(userId: string, avatarId: string | null): Promise<void> {
    await this.run('setAvatar', { id: userId, avatarId });
  }
  async userByAvatar(avatarId: string): Promise<UserRecord | undefined> {
    const row = await this.get('userByAvatar', { avatarId });
    return row && toUser(row);
  }
  async setAway(userId: string, away: boolean): Promise<void> {
    await this.run('setAway', { id: userId, away });
  }
  async bumpTokenVersion(userId: string): Promise<number> {
    const row = await this.get('bumpTokenVersion', { id: userId });
    return Number(row?.token_version ?? 0);
  }
  async setLastSeen(userId: string, at: string): Promise<void> {
    await this.run('setLastSeen', { id: userId, at });
  }
  async agents(): Promise<User[]> {
    return (await this.all('agents')).map((r) => publicUser(toUser(r)));
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    await this.run('revokeToken', { jti, expiresAt });
    await this.run('purgeRevokedTokens', { now: Date.now() });
  }
  async isTokenRevoked(jti: string): Promise<boolean> {
    return (await this.get('tokenRevoked', { jti })) !== undefined;
  }

  async roomById(id: string): Promise<Room | undefined> {
    const row = await this.get('roomById', { id });
    return row && toRoom(row);
  }
  async directRoomByKey(key: string): Promise<Room | undefined> {
    const row = await this.get('directRoomByKey', { directKey: key });
    return row && toRoom(row);
  }
  async supportRoomOf(customerId: string): Promise<Room | undefined> {
    const row = await this.get('supportRoomOf', { customerId });
    return row && toRoom(row);
  }
  async publicRooms(limit: number): Promise<Room[]> {
    return (await this.all('publicRooms', { limit })).map(toRoom);
  }
  async roomMemberCounts(
    limit: number,
  ): Promise<{ rooms: Array<Room & { members: number }>; total: number }> {
    const rows = await this.all('roomMemberCounts', { limit });
    const total = Number((await this.get('countRooms'))?.n ?? 0);
    return { rooms: rows.map((r) => ({ ...toRoom(r), members: Number(r.members) })), total };
  }
  /** The insertRoom parameters of a new room (its name key for ordinary rooms). */
  protected roomParams(room: NewRoom): Params {
    return {
      ...room,
      directKey: room.directKey ?? null,
      nameKey: room.kind === 'room' ? roomNameKey(room.name) : null,
    };
  }
  /** The refusal of an ordinary room whose insert found its name taken. */
  protected async nameTaken(room: NewRoom): Promise<ChatError> {
    const publicClash =
      !room.isPrivate && (await this.get('publicRoomByNameKey', { nameKey: roomNameKey(room.name) }));
    return new ChatError(
      'SB_CHAT_ROOM_NAME_TAKEN',
      publicClash
        ? `A public room named "${room.name}" already exists; pick another name or join it.`
        : `You already have a room named "${room.name}"; pick another name.`,
      { field: 'name' },
    );
  }
  async updateRoomSettings(roomId: string, changes: RoomSettingsChange): Promise<Room | undefined> {
    const nameKey = changes.name === undefined ? null : roomNameKey(changes.name);
    try {
      const updated = await this.get('updateRoomSettings', {
        roomId,
        name: changes.name ?? null,
        nameKey,
        topic: changes.topic ?? null,
        isPrivate: changes.isPrivate ?? null,
        archived: changes.archived ?? null,
      });
      return updated && this.roomById(roomId);
    } catch (error) {
      // The unique name indexes (see roomNameKey): a public room or one of the owner's has it.
      if (/unique|constraint/i.test(String((error as Error).message))) {
        throw new ChatError('SB_CHAT_ROOM_NAME_TAKEN', 'Another room has this name; pick another.', {
          field: 'name',
        });
      }
      throw error;
    }
  }
  // Favourites, invite links and thread states (room-extras.ts).
  async setFavourite(userId: string, roomId: string, favourite: boolean, at: string): Promise<void> {
    await this.run(favourite ? 'insertFavourite' : 'deleteFavourite', { userId, roomId, at });
  }
  async favouriteRoomIds(userId: string): Promise<string[]> {
    return (await this.all('favouriteRoomIds', { userId })).map((r) => String(r.room_id));
  }
  async insertInvite(invite: NewInvite): Promise<InviteRecord> {
    await this.run('insertInvite', { ...invite });
    return (await this.inviteById(invite.id))!;
  }
  async inviteById(id: string): Promise<InviteRecord | undefined> {
    const row = await this.get('inviteById', { id });
    return row && toInvite(row);
  }
  async inviteByToken(token: string): Promise<InviteRecord | undefined> {
    const row = await this.get('inviteByToken', { token });
    return row && toInvite(row);
  }
  async invitesOfRoom(roomId: string): Promise<InviteRecord[]> {
    return (await this.all('invitesOfRoom', { roomId })).map(toInvite);
  }
  async revokeInvite(id: string, at: string): Promise<boolean> {
    return (await this.run('revokeInvite', { id, at })) > 0;
  }
  async useInvite(token: string, now: string): Promise<string | undefined> {
    const row = await this.get('useInvite', { token, now });
    return row && String(row.room_id);
  }
  async threadStates(roomId: string, userId: string, parentId?: string): Promise<ThreadState[]> {
    return (await this.all('threadStates', { roomId, userId, parentId: parentId ?? null })).map((r) => ({
      roomId: String(r.room_id),
      messageId: String(r.id),
      replyCount: Number(r.reply_count),
      lastReplySeq: Number(r.last_reply_seq),
      lastReadSeq: Number(r.last_read_seq),
      unreadCount: Number(r.unread_count),
    }));
  }
  async threadParticipants(parentId: string): Promise<string[]> {
    return (await this.all('threadParticipants', { parentId })).map((r) => String(r.user_id));
  }

  async countOwnedRooms(userId: string): Promise<number> {
    return Number((await this.get('countOwnedRooms', { userId }))?.n ?? 0);
  }
  async addMember(roomId: string, userId: string, at: string): Promise<boolean> {
    return (await this.get('insertMember', { roomId, userId, at })) !== undefined;
  }
  async removeMember(roomId: string, userId: string): Promise<boolean> {
    return (await this.get('deleteMember', { roomId, userId })) !== undefined;
  }
  async isMember(roomId: string, userId: string): Promise<boolean> {
    return (await this.get('isMember', { roomId, userId })) !== undefined;
  }
  async roomMembers(roomId: string): Promise<User[]> {
    return (await this.all('roomMembers', { roomId })).map((r) => publicUser(toUser(r)));
  }
  async memberIds(roomId: string): Promise<string[]> {
    return (await this.all('memberIds', { roomId })).map((r) => String(r.user_id));
  }
  async roomIdsOf(userId: string): Promise<string[]> {
    return (await this.all('roomIdsOf', { userId })).map((r) => String(r.room_id));
  }
  async roomSummaries(userId: string): Promise<RoomSummary[]> {
    const rows = await this.all('roomSummaries', { userId });
    const lastIds = rows.map((r) => r.last_message_id).filter((id): id is string => typeof id === 'string');
    const last = new Map((await this.messagesByIds(lastIds)).map((m) => [m.id, m]));
    return rows.map((r) => ({
      ...toRoom(r),
      unreadCount: Number(r.unread_count),
      mentionCount: Number(r.mention_count),
      lastReadSeq: Number(r.last_read_seq),
      lastMessage: typeof r.last_message_id === 'string' ? (last.get(r.last_message_id) ?? null) : null,
    }));
  }
  async sharingRoomWith(userId: string, otherIds: readonly string[]): Promise<string[]> {
    if (otherIds.length === 0) return [];
    const rows = await this.all('sharingRoomWith', { userId, ids: this.idList(otherIds) });
    return rows.map((r) => String(r.user_id));
  }
  async sendersSeenBy(userId: string, otherIds: readonly string[]): Promise<string[]> {
    if (otherIds.length === 0) return [];
    const rows = await this.all('sendersSeenBy', { userId, ids: this.idList(otherIds) });
    return rows.map((r) => String(r.user_id));
  }
  async contactsOf(userId: string): Promise<string[]> {
    return (await this.all('contactsOf', { userId })).map((r) => String(r.user_id));
  }

  async messageById(id: string): Promise<Message | undefined> {
    const row = await this.get('messageById', { id });
    return row && (await this.hydrate([row]))[0];
  }
  protected async messagesByIds(ids: readonly string[]): Promise<Message[]> {
    if (ids.length === 0) return [];
    return this.hydrate(await this.all('messagesByIds', { ids: this.idList(ids) }));
  }
  /** Turns message rows into messages with their reactions and mentions (two queries for all). */
  protected async hydrate(rows: Row[]): Promise<Message[]> {
    if (rows.length === 0) return [];
    const ids = this.idList(rows.map((r) => String(r.id)));
    const reactions = new Map<string, Reaction[]>();
    for (const r of await this.all('reactionsOf', { ids })) addReaction(reactions, r);
    const mentions = new Map<string, string[]>();
    for (const r of await this.all('mentionsOf', { ids })) {
      const key = String(r.message_id);
      mentions.set(key, [...(mentions.get(key) ?? []), String(r.user_id)]);
    }
    const files = new Map<string, AttachmentRecord[]>();
    for (const r of await this.all('attachmentsOf', { ids })) {
      const key = String(r.message_id);
      files.set(key, [...(files.get(key) ?? []), toAttachment(r)]);
    }
    return rows.map((r) => {
      const message = toMessage(r, reactions.get(String(r.id)) ?? [], mentions.get(String(r.id)) ?? []);
      const attached = files.get(message.id);
      return attached ? { ...message, attachments: attached.map(publicAttachment) } : message;
    });
  }
  async history(roomId: string, query: HistoryQuery): Promise<Message[]> {
    const params = {
      roomId,
      afterSeq: query.afterSeq ?? 0,
      beforeSeq: query.beforeSeq ?? MAX_SEQ,
      limit: query.limit,
    };
    if (query.afterSeq !== undefined) return this.hydrate(await this.all('historyAscending', params));
    return this.hydrate((await this.all('historyDescending', params)).reverse());
  }
  async threadReplies(parentId: string, afterSeq: number, limit: number): Promise<Message[]> {
    return this.hydrate(await this.all('threadReplies', { parentId, afterSeq, limit }));
  }
  async threadReadSeq(parentId: string, userId: string): Promise<number | undefined> {
    const row = await this.get('threadRead', { parentId, userId });
    return row && Number(row.last_read_seq);
  }
  async threadReads(roomId: string, userId: string): Promise<ThreadRead[]> {
    return (await this.all('threadReadsOf', { roomId, userId })).map((r) => ({
      messageId: String(r.parent_id),
      lastReadSeq: Number(r.last_read_seq),
    }));
  }
  async markThreadRead(parentId: string, userId: string, roomId: string, seq: number): Promise<number> {
    await this.run('advanceThreadRead', { parentId, userId, roomId, seq });
    return (await this.threadReadSeq(parentId, userId)) ?? 0;
  }
  async roomPosition(roomId: string): Promise<RoomPosition | undefined> {
    const row = await this.get('roomPosition', { roomId });
    return row && { lastSeq: Number(row.last_seq), changeCursor: Number(row.last_change) };
  }
  async changesSince(roomId: string, since: number, limit: number): Promise<ChangePage> {
    const position = await this.get('roomPosition', { roomId });
    const last = Number(position?.last_change ?? 0);
    const oldest = position?.oldest_change == null ? last + 1 : Number(position.oldest_change);
    if (!position || since > last || since + 1 < oldest) {
      return { cursor: last, messages: [], more: false, expired: true };
    }
    const rows = await this.all('changesAfter', { roomId, since, limit });
    const ids = [...new Set(rows.map((r) => String(r.message_id)))];
    const messages = (await this.messagesByIds(ids)).sort((a, b) => a.seq - b.seq);
    const cursor = rows.length > 0 ? Number(rows[rows.length - 1]!.change_seq) : since;
    return { cursor, messages, more: rows.length === limit, expired: false };
  }
  async searchMessages(
    userId: string,
    query: string,
    roomId: string | undefined,
    limit: number,
  ): Promise<Message[]> {
    const expression = this.searchExpression(query);
    if (!expression) return [];
    return this.hydrate(
      await this.all('searchMessages', { userId, query: expression, roomId: roomId ?? null, limit }),
    );
  }
  async insertAttachment(a: NewAttachment): Promise<AttachmentRecord> {
    await this.run('insertAttachment', { ...a, inline: a.image });
    return (await this.attachmentById(a.id))!;
  }
  async attachmentById(id: string): Promise<AttachmentRecord | undefined> {
    const row = await this.get('attachmentById', { id });
    return row && toAttachment(row);
  }
  async attachmentBytesSince(uploaderId: string, since: string): Promise<number> {
    return Number((await this.get('attachmentBytesSince', { uploaderId, since }))?.n ?? 0);
  }
  async attachToMessage(
    messageId: string,
    roomId: string,
    uploaderId: string,
    ids: readonly string[],
  ): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.all('attachToMessage', { ids: this.idList(ids), messageId, roomId, uploaderId });
    return rows.map((r) => String(r.id));
  }
  async deleteAttachmentsOfMessage(messageId: string): Promise<string[]> {
    return (await this.all('deleteAttachmentsOfMessage', { messageId })).map((r) => String(r.id));
  }
  async deleteUnattachedBefore(before: string): Promise<string[]> {
    return (await this.all('deleteUnattachedBefore', { before })).map((r) => String(r.id));
  }
  async markRead(roomId: string, userId: string, seq: number): Promise<ReadState> {
    const room = await this.get('roomById', { id: roomId });
    const target = Math.min(seq, Number(room?.last_seq ?? 0));
    await this.run('advanceReadMarker', { roomId, userId, seq: target });
    const row = await this.get('readState', { roomId, userId });
    return {
      roomId,
      lastReadSeq: Number(row?.last_read_seq ?? 0),
      unreadCount: Number(row?.unread_count ?? 0),
      mentionCount: Number(row?.mention_count ?? 0),
    };
  }

  async block(blockerId: string, blockedId: string, at: string): Promise<void> {
    await this.run('insertBlock', { blockerId, blockedId, at });
  }
  async unblock(blockerId: string, blockedId: string): Promise<void> {
    await this.run('deleteBlock', { blockerId, blockedId });
  }
  async blockersOf(userId: string, otherIds: readonly string[]): Promise<string[]> {
    if (otherIds.length === 0) return [];
    return (await this.all('blockersOf', { userId, ids: this.idList(otherIds) })).map((r) =>
      String(r.blocker_id),
    );
  }

  async createSupportRequest(request: NewSupportRequest): Promise<SupportRequest> {
    await this.run('insertSupportRequest', { ...request });
    return (await this.supportRequestById(request.id))!;
  }
  async supportRequestById(id: string): Promise<SupportRequest | undefined> {
    const row = await this.get('supportRequestById', { id });
    return row && toSupportRequest(row);
  }
  async activeSupportRequestOf(customerId: string): Promise<SupportRequest | undefined> {
    const row = await this.get('activeSupportRequestOf', { customerId });
    return row && toSupportRequest(row);
  }
  async supportQueue(): Promise<SupportRequest[]> {
    return (await this.all('supportQueue')).map(toSupportRequest);
  }
  async claimSupportRequest(id: string, agentId: string, capacity: number, at: string): Promise<boolean> {
    return (await this.get('claimSupportRequest', { id, agentId, capacity, at })) !== undefined;
  }
  async transferSupportRequest(
    id: string,
    fromAgentId: string,
    toAgentId: string,
    capacity: number,
    at: string,
  ): Promise<boolean> {
    return (
      (await this.get('transferSupportRequest', { id, fromAgentId, toAgentId, capacity, at })) !== undefined
    );
  }
  async requeueSupportRequest(id: string, agentId: string, at: string): Promise<boolean> {
    return (await this.get('requeueSupportRequest', { id, agentId, at })) !== undefined;
  }
  async closeSupportRequest(id: string, at: string): Promise<boolean> {
    return (await this.get('closeSupportRequest', { id, at })) !== undefined;
  }
  async assignedCount(agentId: string): Promise<number> {
    return Number((await this.get('assignedCount', { agentId }))?.n ?? 0);
  }
  async takeRateToken(key: string, ratePerSecond: number, burst: number): Promise<boolean> {
    return (await this.get('takeRateToken', { key, rate: ratePerSecond, burst })) !== undefined;
  }
  async loginBlockedUntil(key: string): Promise<number> {
    return Number((await this.get('loginBlockedUntil', { key }))?.blocked_until_ms ?? 0);
  }
  async addLoginFailure(key: string, nowMs: number, staleBeforeMs: number): Promise<number> {
    await this.run('purgeLoginFailures', { staleBefore: staleBeforeMs, now: nowMs });
    return Number(
      (await this.get('addLoginFailure', { key, now: nowMs, staleBefore: staleBeforeMs }))?.failures,
    );
  }
  async blockLogin(key: string, untilMs: number): Promise<void> {
    await this.run('blockLogin', { key, until: untilMs });
  }
  async clearLoginFailures(key: string): Promise<void> {
    await this.run('clearLoginFailures', { key });
  }
  async rememberLoginAddress(userId: string, addressHash: string, nowMs: number): Promise<void> {
    await this.run('rememberLoginAddress', { userId, addressHash, now: nowMs });
  }
  async isKnownLoginAddress(userId: string, addressHash: string, sinceMs: number): Promise<boolean> {
    return (await this.get('isKnownLoginAddress', { userId, addressHash, since: sinceMs })) !== undefined;
  }

  async hostUser(userId: string): Promise<HostUserRecord | undefined> {
    const r = await this.get('hostUserById', { userId });
    if (!r) return undefined;
    return {
      userId: String(r.user_id),
      issuer: String(r.issuer),
      subject: String(r.subject),
      avatarUrl: r.avatar_url == null ? null : String(r.avatar_url),
      claimsHash: String(r.claims_hash),
    };
  }
  async upsertHostUser(record: HostUserRecord, at: string): Promise<void> {
    await this.run('upsertHostUser', { ...record, at });
  }
  async createApiKey(name: string, keyHash: string, prefix: string, at: string): Promise<boolean> {
    return (await this.get('createApiKey', { name, keyHash, prefix, at })) !== undefined;
  }
  async apiKeys(): Promise<ApiKeyInfo[]> {
    return (await this.all('apiKeys')).map(toApiKey);
  }
  async useApiKey(keyHash: string, at: string): Promise<ApiKeyInfo | undefined> {
    const row = await this.get('apiKeyByHash', { keyHash });
    if (!row) return undefined;
    await this.run('touchApiKey', { name: row.name, at });
    return toApiKey(row);
  }
  async revokeApiKey(name: string): Promise<boolean> {
    return (await this.run('revokeApiKey', { name })) > 0;
  }
  async supportRequestsByStatus(status: string, limit: number): Promise<SupportRequest[]> {
    return (await this.all('supportRequestsByStatus', { status, limit })).map(toSupportRequest);
  }
}

function toApiKey(r: Row): ApiKeyInfo {
  return {
    name: String(r.name),
    prefix: String(r.prefix),
    createdAt: isoTime(r.created_at),
    lastUsedAt: r.last_used_at == null ? null : isoTime(r.last_used_at),
  };
}

/** A time column as ISO 8601 (PostgreSQL may hand back a Date). */
export function isoTime(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

function bool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/** Maps a users row. */
export function toUser(r: Row): UserRecord {
  return {
    id: String(r.id),
    username: String(r.username),
    displayName: String(r.display_name),
    role: String(r.role) as Role,
    isGuest: bool(r.is_guest),
    passwordHash: r.password_hash == null ? null : String(r.password_hash),
    tokenVersion: Number(r.token_version),
    createdAt: isoTime(r.created_at),
    lastSeenAt: r.last_seen_at == null ? null : isoTime(r.last_seen_at),
    avatarId: r.avatar_id == null ? null : String(r.avatar_id),
    away: bool(r.away),
  };
}

/** The public part of a user. */
export function publicUser(u: UserRecord): User {
  const { id, username, displayName, role, isGuest } = u;
  return {
    id,
    username,
    displayName,
    role,
    isGuest,
    ...(u.avatarId ? { avatarUrl: avatarUrl(u.avatarId) } : {}),
  };
}

/** Maps a rooms row. */
export function toRoom(r: Row): Room {
  const kind = String(r.kind) as RoomKind;
  return {
    id: String(r.id),
    name: String(r.name),
    isPrivate: bool(r.is_private),
    isDirect: kind === 'direct',
    ownerId: r.owner_id == null ? null : String(r.owner_id),
    kind,
    ...(r.topic === undefined ? {} : { topic: String(r.topic ?? '') }),
    ...(r.archived === undefined ? {} : { archived: bool(r.archived) }),
  };
}

/** Maps a messages row with its reactions and mentions. */
export function toMessage(r: Row, reactions: Reaction[], mentions: string[]): Message {
  return {
    id: String(r.id),
    roomId: String(r.room_id),
    seq: Number(r.seq),
    senderId: String(r.sender_id),
    text: String(r.text),
    sentAt: isoTime(r.sent_at),
    ...(r.edited_at == null ? {} : { editedAt: isoTime(r.edited_at) }),
    ...(bool(r.deleted) ? { deleted: true } : {}),
    reactions,
    mentions,
    clientMessageId: String(r.client_message_id),
    changeSeq: Number(r.change_seq ?? 0),
    ...(r.parent_id == null ? {} : { parentId: String(r.parent_id) }),
    ...(Number(r.reply_count ?? 0) > 0
      ? { replyCount: Number(r.reply_count), lastReplySeq: Number(r.last_reply_seq) }
      : {}),
  };
}

/** Maps an attachments row. */
export function toAttachment(r: Row): AttachmentRecord {
  const id = String(r.id);
  return {
    id,
    roomId: String(r.room_id),
    name: String(r.name),
    size: Number(r.size),
    contentType: String(r.content_type),
    image: bool(r.inline),
    url: attachmentUrl(id),
    uploaderId: String(r.uploader_id),
    messageId: r.message_id == null ? null : String(r.message_id),
    createdAt: isoTime(r.created_at),
  };
}

/** What a storage logs for one change: the statements' parameters, in the order to run them. */
export function changeStatements(
  roomId: string,
  messageId: string,
  seq: number,
  kind: ChangeKind,
  at: string,
  changeSeq: number,
): [name: string, params: Params][] {
  const before = new Date(Date.parse(at) - CHANGE_RETENTION_MS).toISOString();
  return [
    ['insertChange', { roomId, changeSeq, messageId, seq, kind, at }],
    ['setMessageChange', { messageId, changeSeq }],
    ['purgeChanges', { roomId, before }],
  ];
}

/**
 * The refusal of a reaction that would put more than `maxDistinct` different emoji on a message, or
 * nothing: `counts` is the `distinctOtherEmoji` row (other emoji, and uses of this one).
 */
export function tooManyReactions(counts: Row | undefined, maxDistinct: number): ChatError | undefined {
  if (Number(counts?.this_one ?? 0) > 0 || Number(counts?.others ?? 0) < maxDistinct) return undefined;
  return new ChatError(
    'SB_CHAT_TOO_MANY_REACTIONS',
    `A message carries at most ${maxDistinct} different reactions; add to one of those instead.`,
    { field: 'emoji' },
  );
}

/** Folds one reactions row into per-message reaction lists (emoji in first-use order). */
export function addReaction(into: Map<string, Reaction[]>, r: Row): void {
  const key = String(r.message_id);
  const list = into.get(key) ?? [];
  const emoji = String(r.emoji);
  const existing = list.find((x) => x.emoji === emoji);
  if (existing) {
    existing.userIds.push(String(r.user_id));
    (existing as { count: number }).count++;
  } else list.push({ emoji, count: 1, userIds: [String(r.user_id)] });
  into.set(key, list);
}

/** Maps a support_requests row. */
export function toSupportRequest(r: Row): SupportRequest {
  return {
    id: String(r.id),
    customerId: String(r.customer_id),
    customerName: r.customer_name == null ? '' : String(r.customer_name),
    roomId: String(r.room_id),
    subject: String(r.subject),
    status: String(r.status) as SupportStatus,
    agentId: r.agent_id == null ? null : String(r.agent_id),
    createdAt: isoTime(r.created_at),
    updatedAt: isoTime(r.updated_at),
    closedAt: r.closed_at == null ? null : isoTime(r.closed_at),
  };
}

/** An invite link from its row. */
export function toInvite(r: Row): InviteRecord {
  return {
    id: String(r.id),
    token: String(r.token),
    roomId: String(r.room_id),
    createdBy: String(r.created_by),
    createdAt: isoTime(r.created_at),
    expiresAt: isoTime(r.expires_at),
    maxUses: Number(r.max_uses),
    uses: Number(r.uses),
    revokedAt: r.revoked_at == null ? null : isoTime(r.revoked_at),
  };
}
