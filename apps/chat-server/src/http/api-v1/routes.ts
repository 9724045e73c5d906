/**
 * The server API under `/api/v1` (issue #15), for the host app's backend with an API key: host
 * users, rooms and their members, messages, support requests and disconnects. Each route is one
 * entry of {@link apiV1Routes}: its zod schemas validate the request and describe the answers,
 * and the OpenAPI document is generated from the same entries. Everything goes through the
 * domain services and the hub notifier, so connected clients see it live as if done in the app.
 * @module
 */
import type { z } from 'zod';
import type { ApiKeyInfo } from '../../auth/api-keys.js';
import type { HostUserService } from '../../domain/host-users.js';
import type { MessageService } from '../../domain/messages.js';
import type { Actor, ServiceDeps } from '../../domain/ports.js';
import type { RoomService } from '../../domain/rooms.js';
import { MAX_ROOM_NAME } from '../../domain/rooms.js';
import { visibleName } from '../../domain/validate.js';
import { ChatError, forbidden, notFound } from '../../errors.js';
import type { Message, Room, User } from '../../types.js';
import * as S from './schemas.js';

/** What the routes need. */
export interface ApiV1Deps {
  readonly services: ServiceDeps;
  readonly rooms: RoomService;
  readonly messages: MessageService;
  readonly hostUsers: HostUserService;
  /** Ends every connection of a user on every node. */
  readonly disconnectUser: (chatUserId: string) => Promise<void>;
}

/** A validated request. */
export interface ApiRequest {
  readonly params: Record<string, string>;
  readonly query: unknown;
  readonly body: unknown;
  readonly key: ApiKeyInfo;
}

/** One route of the server API. */
export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI form: `/rooms/{id}` (under `/api/v1`). */
  readonly path: string;
  readonly summary: string;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** Status → answer schema (null: no body). */
  readonly responses: Record<number, z.ZodType | null>;
  readonly handle: (deps: ApiV1Deps, req: ApiRequest) => Promise<{ status: number; body?: unknown }>;
}

/** The id of the system user that posts the messages sent without a `userId`. */
export const SYSTEM_USER_ID = 'sb_system';

const err = { 400: S.ApiError, 401: S.ApiError, 404: S.ApiError };

/** Every route of the server API. */
export const apiV1Routes: readonly ApiRoute[] = [
  {
    method: 'PUT',
    path: '/users/{id}',
    summary: 'Create or update a host user (displayName, role, avatarUrl).',
    params: S.UserParams,
    body: S.PutUserBody,
    responses: { 200: S.ApiUserAnswer, 201: S.ApiUserAnswer, ...err },
    async handle(deps, req) {
      const body = req.body as z.infer<typeof S.PutUserBody>;
      const { user, created } = await deps.hostUsers.put(req.params.id!, body);
      return { status: created ? 201 : 200, body: { user } };
    },
  },
  {
    method: 'POST',
    path: '/users/{id}/disconnect',
    summary:
      'End every connection of a host user, on every node (their token still works; they reconnect unless the host app stops handing it out).',
    params: S.UserParams,
    responses: { 204: null, ...err },
    async handle(deps, req) {
      const user = await hostUser(deps, req.params.id!);
      await deps.disconnectUser(user.id);
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/rooms',
    summary: 'Create a room with host users as members (unknown ids are refused, named).',
    body: S.CreateRoomBody,
    responses: { 201: S.RoomWithMembers, 409: S.ApiError, ...err },
    async handle(deps, req) {
      const body = req.body as z.infer<typeof S.CreateRoomBody>;
      const name = visibleName({ name: body.name }, 'name', MAX_ROOM_NAME);
      const members = await knownUsers(deps, [...new Set(body.members)], 'members');
      const { storage, newId, now } = deps.services;
      const room = await storage.createRoom(
        { id: newId(), name, isPrivate: body.private, kind: 'room', ownerId: null, createdAt: now() },
        members.map((m) => m.id),
      );
      for (const member of members) await deps.rooms.joined(room, member.id, false);
      return { status: 201, body: await roomView(deps, room) };
    },
  },
  {
    method: 'GET',
    path: '/rooms/{id}',
    summary: 'A room and its members.',
    params: S.IdParams,
    responses: { 200: S.RoomWithMembers, ...err },
    async handle(deps, req) {
      return { status: 200, body: await roomView(deps, await room(deps, req.params.id!)) };
    },
  },
  {
    method: 'POST',
    path: '/rooms/{id}/members',
    summary: 'Add host users to a room (unknown ids are refused, named); members see them join live.',
    params: S.IdParams,
    body: S.AddMembersBody,
    responses: { 200: S.RoomWithMembers, 403: S.ApiError, ...err },
    async handle(deps, req) {
      const target = await room(deps, req.params.id!);
      if (target.kind !== 'room') throw forbidden('Members are added to ordinary rooms only.');
      const body = req.body as z.infer<typeof S.AddMembersBody>;
      const users = await knownUsers(deps, [...new Set(body.userIds)], 'userIds');
      const { storage, now } = deps.services;
      for (const user of users) {
        if (await storage.addMember(target.id, user.id, now())) await deps.rooms.joined(target, user.id);
      }
      return { status: 200, body: await roomView(deps, target) };
    },
  },
  {
    method: 'DELETE',
    path: '/rooms/{id}/members/{userId}',
    summary: 'Remove a host user from a room; they and the members see it live.',
    params: S.MemberParams,
    responses: { 204: null, 403: S.ApiError, ...err },
    async handle(deps, req) {
      const target = await room(deps, req.params.id!);
      if (target.kind !== 'room') throw forbidden('Members are removed from ordinary rooms only.');
      const user = await hostUser(deps, req.params.userId!);
      if (!(await deps.services.storage.isMember(target.id, user.id)))
        throw notFound('This user is not a member.');
      await deps.rooms.remove(target, user.id, 'removed');
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    path: '/rooms/{id}/messages',
    summary:
      'Post a message as a member host user, or a system message without userId; idempotent by clientMessageId.',
    params: S.IdParams,
    body: S.PostMessageBody,
    responses: { 201: S.MessageAnswer, 403: S.ApiError, 429: S.ApiError, ...err },
    async handle(deps, req) {
      const target = await room(deps, req.params.id!);
      const body = req.body as z.infer<typeof S.PostMessageBody>;
      const max = deps.services.limits.maxMessageLength;
      if (body.text.trim() === '')
        throw new ChatError('SB_CHAT_INVALID_INPUT', 'text: must not be blank.', { field: 'text' });
      if (body.text.length > max) {
        throw new ChatError('SB_CHAT_MESSAGE_TOO_LONG', `A message has at most ${max} characters.`, {
          field: 'text',
        });
      }
      let actor: Actor;
      if (body.userId === undefined) actor = await systemUser(deps);
      else {
        actor = await hostUser(deps, body.userId);
        if (!(await deps.services.storage.isMember(target.id, actor.id))) {
          throw forbidden('This user is not a member of the room.');
        }
      }
      const clientMessageId = body.clientMessageId ?? `api:${deps.services.newId()}`;
      const message = await deps.messages.post(actor, target, body.text, clientMessageId);
      return { status: 201, body: { message: (await messageViews(deps, [message]))[0] } };
    },
  },
  {
    method: 'GET',
    path: '/rooms/{id}/messages',
    summary: 'Messages by seq: the newest `limit` (default 50, at most 200), or before/after a seq.',
    params: S.IdParams,
    query: S.HistoryQuery,
    responses: { 200: S.MessagesAnswer, ...err },
    async handle(deps, req) {
      const target = await room(deps, req.params.id!);
      const q = req.query as z.infer<typeof S.HistoryQuery>;
      const messages = await deps.services.storage.history(target.id, {
        ...(q.before !== undefined ? { beforeSeq: q.before } : {}),
        ...(q.after !== undefined ? { afterSeq: q.after } : {}),
        limit: q.limit,
      });
      return { status: 200, body: { messages: await messageViews(deps, messages) } };
    },
  },
  {
    method: 'DELETE',
    path: '/messages/{id}',
    summary: "Delete a message (its text and files); the room's members see it go live.",
    params: S.IdParams,
    responses: { 204: null, ...err },
    async handle(deps, req) {
      await deps.messages.deleteAsServer(req.params.id!);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/support/requests',
    summary:
      'Support requests in one state (open, assigned, closed; default: open and assigned), oldest first.',
    query: S.SupportQuery,
    responses: { 200: S.SupportAnswer, ...err },
    async handle(deps, req) {
      const { status } = req.query as z.infer<typeof S.SupportQuery>;
      const { storage } = deps.services;
      const requests = status
        ? await storage.supportRequestsByStatus(status, 500)
        : await storage.supportQueue();
      return { status: 200, body: { requests } };
    },
  },
];

async function room(deps: ApiV1Deps, id: string): Promise<Room> {
  const found = await deps.services.storage.roomById(id);
  if (!found) throw notFound('No such room.');
  return found;
}

/** The chat user of a host `sub`, or 404. */
async function hostUser(deps: ApiV1Deps, subject: string): Promise<User> {
  const user = await deps.services.storage.userById(deps.hostUsers.idOf(subject));
  if (!user) throw notFound(`No host user '${subject}' (create it with PUT /api/v1/users/{id}).`);
  return user;
}

/** The chat users of host `sub`s, or a 400 naming the unknown ones. */
async function knownUsers(deps: ApiV1Deps, subjects: string[], field: string): Promise<User[]> {
  const ids = subjects.map((s) => deps.hostUsers.idOf(s));
  const users = await deps.services.storage.usersByIds(ids);
  const found = new Set(users.map((u) => u.id));
  const unknown = subjects.filter((_s, i) => !found.has(ids[i]!));
  if (unknown.length > 0) {
    throw new ChatError('SB_CHAT_INVALID_INPUT', `Unknown user ids: ${unknown.join(', ')}.`, { field });
  }
  return users;
}

/** The user behind system messages, created on first use. */
async function systemUser(deps: ApiV1Deps): Promise<User> {
  const { storage, now } = deps.services;
  const existing = await storage.userById(SYSTEM_USER_ID);
  if (existing) return existing;
  try {
    await storage.createUser({
      id: SYSTEM_USER_ID,
      username: ':system',
      displayName: 'System',
      passwordHash: null,
      role: 'user',
      isGuest: false,
      createdAt: now(),
    });
  } catch (error) {
    if (!(await storage.userById(SYSTEM_USER_ID))) throw error;
  }
  return (await storage.userById(SYSTEM_USER_ID))!;
}

/** Chat user ids to host `sub`s (of the configured issuer). */
async function subjects(
  deps: ApiV1Deps,
  chatIds: readonly string[],
): Promise<Map<string, { subject: string | null; avatarUrl: string | null }>> {
  const map = new Map<string, { subject: string | null; avatarUrl: string | null }>();
  for (const id of new Set(chatIds)) {
    const host = await deps.services.storage.hostUser(id);
    const subject = host && host.issuer === deps.hostUsers.issuer ? host.subject : null;
    map.set(id, { subject, avatarUrl: host?.avatarUrl ?? null });
  }
  return map;
}

async function roomView(deps: ApiV1Deps, r: Room): Promise<z.infer<typeof S.RoomWithMembers>> {
  const members = await deps.services.storage.roomMembers(r.id);
  const hosts = await subjects(
    deps,
    members.map((m) => m.id),
  );
  return {
    room: {
      id: r.id,
      name: r.name,
      kind: r.kind,
      isPrivate: r.isPrivate,
      ownerId: r.ownerId,
      topic: r.topic ?? '',
      archived: r.archived ?? false,
    },
    members: members.map((m) => ({
      id: hosts.get(m.id)?.subject ?? m.id,
      chatUserId: m.id,
      displayName: m.displayName,
      role: m.role,
      avatarUrl: hosts.get(m.id)?.avatarUrl ?? null,
    })),
  };
}

async function messageViews(
  deps: ApiV1Deps,
  messages: readonly Message[],
): Promise<z.infer<typeof S.ApiMessage>[]> {
  const hosts = await subjects(
    deps,
    messages.map((m) => m.senderId),
  );
  return messages.map((m) => ({
    id: m.id,
    roomId: m.roomId,
    seq: m.seq,
    senderId: m.senderId,
    userId: hosts.get(m.senderId)?.subject ?? null,
    system: m.senderId === SYSTEM_USER_ID,
    text: m.text,
    sentAt: m.sentAt,
    deleted: m.deleted ?? false,
    clientMessageId: m.clientMessageId,
  }));
}
