/**
 * The server API's schemas (zod): they validate every request and describe every answer, and the
 * OpenAPI document at `/api/v1/openapi.json` is generated from them (openapi.ts).
 * @module
 */
import { z } from 'zod';

/** A host user id in a path or body: the host app's `sub`. */
export const HostUserId = z
  .string()
  .min(1)
  .max(255)
  .meta({ description: "The host app's `sub` (of AUTH_ISSUER)" });
/** A chat id (room, message). */
export const ChatId = z.string().min(1).max(128);

/** `PUT /users/{id}`. */
export const PutUserBody = z
  .object({
    displayName: z.string().min(1).max(200).optional(),
    role: z.enum(['user', 'agent', 'admin']).optional(),
    avatarUrl: z.union([z.url({ protocol: /^https?$/ }).max(2000), z.null()]).optional(),
  })
  .strict();

/** A user as the API shows it. */
export const ApiUser = z.object({
  id: z.string().meta({ description: "The host app's `sub` for host users, else the chat's id" }),
  chatUserId: z.string().meta({ description: "The chat's own id (senderId of messages, userId of events)" }),
  displayName: z.string(),
  role: z.enum(['user', 'agent', 'admin']),
  avatarUrl: z.union([z.string(), z.null()]),
});

/** `POST /rooms`. */
export const CreateRoomBody = z
  .object({
    name: z.string().min(1).max(200),
    private: z.boolean().default(false),
    members: z.array(HostUserId).max(1000).default([]),
  })
  .strict();

/** A room. */
export const ApiRoom = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['room', 'direct', 'support']),
  isPrivate: z.boolean(),
  ownerId: z
    .union([z.string(), z.null()])
    .meta({ description: "The owner's chat id (null: created by the server API)" }),
  topic: z.string(),
  archived: z.boolean(),
});

/** `GET /rooms/{id}`. */
export const RoomWithMembers = z.object({ room: ApiRoom, members: z.array(ApiUser) });

/** `POST /rooms/{id}/members`. */
export const AddMembersBody = z.object({ userIds: z.array(HostUserId).min(1).max(1000) }).strict();

/** `POST /rooms/{id}/messages`. */
export const PostMessageBody = z
  .object({
    text: z.string().min(1),
    userId: HostUserId.optional().meta({
      description: 'Post as this host user (a member); absent: a system message',
    }),
    clientMessageId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: 'Sending it again stores nothing more' }),
  })
  .strict();

/** A message. */
export const ApiMessage = z.object({
  id: z.string(),
  roomId: z.string(),
  seq: z.number().int(),
  senderId: z.string().meta({ description: "The sender's chat id" }),
  userId: z.union([z.string(), z.null()]).meta({ description: "The sender's host `sub`, if a host user" }),
  system: z.boolean(),
  text: z.string(),
  sentAt: z.string(),
  deleted: z.boolean(),
  clientMessageId: z.string(),
});

/** `GET /rooms/{id}/messages` query. */
export const HistoryQuery = z
  .object({
    before: z.coerce.number().int().min(1).optional(),
    after: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

/** `GET /support/requests` query. */
export const SupportQuery = z.object({ status: z.enum(['open', 'assigned', 'closed']).optional() }).strict();

/** A support request. */
export const ApiSupportRequest = z.object({
  id: z.string(),
  customerId: z.string(),
  customerName: z.string(),
  roomId: z.string(),
  subject: z.string(),
  status: z.enum(['open', 'assigned', 'closed']),
  agentId: z.union([z.string(), z.null()]),
  createdAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.union([z.string(), z.null()]),
});

/** Every error answer. */
export const ApiError = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

/** Path parameters. */
export const IdParams = z.object({ id: ChatId });
/** Path parameters with a user. */
export const UserParams = z.object({ id: HostUserId });
/** Path parameters of a membership. */
export const MemberParams = z.object({ id: ChatId, userId: HostUserId });

/** `{user}`. */
export const ApiUserAnswer = z.object({ user: ApiUser });
/** `{message}`. */
export const MessageAnswer = z.object({ message: ApiMessage });
/** `{messages}`. */
export const MessagesAnswer = z.object({ messages: z.array(ApiMessage) });
/** `{requests}`. */
export const SupportAnswer = z.object({ requests: z.array(ApiSupportRequest) });
