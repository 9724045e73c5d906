/**
 * The chat server's error catalogue: stable `SB_CHAT_*` codes, each with the HTTP status our JSON
 * APIs answer with. Hub methods throw them as `HubException`s whose message starts with the code
 * (`SB_CHAT_FORBIDDEN: ...`). Every code is listed in `docs/errors.md`; a test keeps the two in sync.
 * @module
 */
import type { ErrorCatalogue } from '@switchboard/protocol';

/** The codes the chat server raises. */
export const chatErrors = {
  SB_CHAT_INVALID_INPUT: {
    summary: 'A request body or hub argument is missing a field, has the wrong type, or is out of range.',
    surface:
      'HTTP 400 {"error": {"code", "message", "field"}}; on the hub, HubException "SB_CHAT_INVALID_INPUT: <field>: <reason>"',
  },
  SB_CHAT_BAD_CREDENTIALS: {
    summary: 'Wrong username or password, or a missing, expired or revoked token.',
    surface: 'HTTP 401 {"error": {"code", "message"}}; the hub endpoint answers 401 to negotiate',
  },
  SB_CHAT_FORBIDDEN: {
    summary:
      'The user is known but may not do this (not a member, not the author, not an agent, not the owner).',
    surface: 'HTTP 403; on the hub, HubException "SB_CHAT_FORBIDDEN: <what was refused>" without any content',
  },
  SB_CHAT_ADMIN_ONLY: {
    summary:
      'A non-admin asked for what only admins see: the live admin view (watchAdminStats) or GET /api/v1/admin/stats.',
    surface:
      'HTTP 403 {"error": {"code", "message"}} on GET /api/v1/admin/stats; HubException "SB_CHAT_ADMIN_ONLY: ..." on watchAdminStats and unwatchAdminStats',
  },
  SB_CHAT_NOT_FOUND: {
    summary:
      'The room, message, user, support request or HTTP route does not exist (or is not visible to the caller).',
    surface: 'HTTP 404; on the hub, HubException "SB_CHAT_NOT_FOUND: ..."',
  },
  SB_CHAT_USERNAME_TAKEN: {
    summary: 'Registration asked for a username that already exists.',
    surface: 'HTTP 409 with field "username"',
  },
  SB_CHAT_RATE_LIMITED: {
    summary:
      'Too many login attempts, registrations or guest creations from one IP, too many failed logins of one account (a backoff), or too many messages per second from one user.',
    surface: 'HTTP 429 with a Retry-After header; on the hub, HubException "SB_CHAT_RATE_LIMITED: ..."',
  },
  SB_CHAT_MESSAGE_TOO_LONG: {
    summary: 'A message is longer than the configured maximum (4,000 characters by default).',
    surface: 'HubException "SB_CHAT_MESSAGE_TOO_LONG: ..." on sendMessage and editMessage',
  },
  SB_CHAT_INVALID_REACTION: {
    summary: 'A reaction is not exactly one emoji: text, several emoji, or more than 32 bytes of UTF-8.',
    surface: 'HubException "SB_CHAT_INVALID_REACTION: emoji: ..." on react',
  },
  SB_CHAT_TOO_MANY_REACTIONS: {
    summary:
      'A message already carries the most different emoji allowed (20); the same emoji can still be added by more people.',
    surface: 'HubException "SB_CHAT_TOO_MANY_REACTIONS: ..." on react',
  },
  SB_CHAT_INVALID_NAME: {
    summary:
      'A display name or room name contains a control, bidirectional-override, zero-width or other invisible formatting character (names are stored in Unicode NFC).',
    surface:
      'HTTP 400 {"error": {"code", "message", "field"}} on register and guest; HubException "SB_CHAT_INVALID_NAME: <field>: ..." on createRoom',
  },
  SB_CHAT_AVATAR_NOT_IMAGE: {
    summary:
      'An avatar is not a PNG, JPEG, GIF or WebP image whose bytes match its declared type (SVG and other types are refused).',
    surface: 'HTTP 400 {"error": {"code", "message", "field": "file"}} on PUT /api/users/{userId}/avatar',
  },
  SB_CHAT_ROOM_LIMIT: {
    summary: 'The user already owns the maximum number of rooms.',
    surface: 'HubException "SB_CHAT_ROOM_LIMIT: ..." on createRoom',
  },
  SB_CHAT_ROOM_NAME_TAKEN: {
    summary:
      "A new room's name is already used (ignoring case) by a public room, or by another room of the same owner.",
    surface: 'HubException "SB_CHAT_ROOM_NAME_TAKEN: ..." on createRoom',
  },
  SB_CHAT_BLOCKED: {
    summary:
      'A user who was blocked tried to open a direct or group conversation with, write directly to, or invite to a room, the blocker.',
    surface: 'HubException "SB_CHAT_BLOCKED: ..." on openDirect, sendMessage and inviteToRoom',
  },
  SB_CHAT_ALREADY_CLAIMED: {
    summary:
      'A support request is no longer open (another agent claimed it first) or no longer in the expected state.',
    surface: 'HubException "SB_CHAT_ALREADY_CLAIMED: ..." on claimSupportRequest and transferSupportRequest',
  },
  SB_CHAT_AGENT_AT_CAPACITY: {
    summary: 'The agent already handles as many support requests as the configured capacity allows.',
    surface:
      'HubException "SB_CHAT_AGENT_AT_CAPACITY: ..." on claimSupportRequest and transferSupportRequest',
  },
  SB_CHAT_ROOM_ARCHIVED: {
    summary:
      'The room is archived: it is read-only (no message, reply, edit, deletion, reaction, upload, invite link or join) until its owner or an admin restores it.',
    surface:
      'HubException "SB_CHAT_ROOM_ARCHIVED: ..." on sendMessage, editMessage, deleteMessage, react, createInvite and acceptInvite; HTTP 409 on POST /api/rooms/{roomId}/attachments',
  },
  SB_CHAT_INVITE_EXPIRED: {
    summary: 'An invite link is past its expiry time.',
    surface: 'HubException "SB_CHAT_INVITE_EXPIRED: ..." on acceptInvite',
  },
  SB_CHAT_INVITE_USED_UP: {
    summary: 'An invite link was used as many times as its use limit allows.',
    surface: 'HubException "SB_CHAT_INVITE_USED_UP: ..." on acceptInvite',
  },
  SB_CHAT_INVITE_REVOKED: {
    summary: "An invite link was revoked by the room's owner or an admin.",
    surface: 'HubException "SB_CHAT_INVITE_REVOKED: ..." on acceptInvite',
  },
  SB_CHAT_PAYLOAD_TOO_LARGE: {
    summary: 'A JSON request body is larger than the limit.',
    surface: 'HTTP 413 {"error": {"code", "message"}}',
  },
  SB_CHAT_ATTACHMENT_TOO_LARGE: {
    summary:
      'An uploaded file is larger than MAX_ATTACHMENT_BYTES (10 MiB by default), or an avatar larger than 1 MiB; nothing of it is stored.',
    surface:
      'HTTP 413 {"error": {"code", "message", "field": "file"}} on POST /api/rooms/{roomId}/attachments and PUT /api/users/{userId}/avatar',
  },
  SB_CHAT_ATTACHMENT_QUOTA: {
    summary:
      'The user uploaded MAX_ATTACHMENT_BYTES_PER_DAY (200 MiB by default) in the last 24 hours already; nothing of the file is stored.',
    surface:
      'HTTP 413 {"error": {"code", "message", "field": "file"}} on POST /api/rooms/{roomId}/attachments',
  },
  SB_CHAT_METHOD_NOT_ALLOWED: {
    summary: 'The route exists but not with this HTTP method.',
    surface: 'HTTP 405 {"error": {"code", "message"}} with an Allow header',
  },
  SB_CHAT_TYPING_DROPPED: {
    summary: 'A typing notice beyond its per-user rate, or for a room the user is not in, was dropped.',
    surface:
      'Nothing reaches the client (typing is a send); counted in chat_typing_dropped_total and logged at debug',
  },
  SB_CHAT_CONFIG_INVALID: {
    summary:
      'The configuration is invalid or inconsistent (a bad number, a backplane over SQLite storage, a malformed WEBHOOK_URL or WEBHOOK_SECRET).',
    surface: 'The process refuses to start: one line on stderr naming the variable, exit code 1',
  },
  SB_CHAT_STORAGE_UNAVAILABLE: {
    summary: 'The storage (SQLite file or PostgreSQL) cannot be reached.',
    surface: 'GET /readyz answers 503 {"error": {"code", "message"}}; logged',
  },
  SB_CHAT_BACKPLANE_UNREACHABLE: {
    summary:
      'The backplane (its connection, or its presence store) does not answer: this node cannot reach the others.',
    surface:
      'GET /readyz answers 503 {"error": {"code", "message"}}; the node keeps serving and reconnects by itself',
  },
  SB_CHAT_AUTH_UNAVAILABLE: {
    summary:
      "The host app's signing keys (its JWKS, or its OpenID configuration) cannot be fetched, so a host token cannot be judged; not a refusal of the token.",
    surface:
      'HTTP 503 {"error": {"code", "message"}} with Retry-After on the HTTP APIs; the hub endpoint answers 503 to negotiate; logged as chat.auth.keys_unavailable',
  },
  SB_CHAT_API_KEY_INVALID: {
    summary:
      'A server API request (/api/v1) came without an API key, or with one that is unknown or revoked.',
    surface: 'HTTP 401 {"error": {"code", "message"}} with WWW-Authenticate: Bearer',
  },
  SB_CHAT_INTERNAL: {
    summary: 'An unexpected failure inside the chat server.',
    surface:
      'HTTP 500 {"error": {"code": "SB_CHAT_INTERNAL", "message": "Internal error."}} (never a stack trace); logged',
  },
} as const satisfies ErrorCatalogue;

/** A code of the chat catalogue. */
export type ChatErrorCode = keyof typeof chatErrors;

/** The HTTP status of each code on our JSON APIs. */
export const chatErrorStatus: Record<ChatErrorCode, number> = {
  SB_CHAT_INVALID_INPUT: 400,
  SB_CHAT_BAD_CREDENTIALS: 401,
  SB_CHAT_FORBIDDEN: 403,
  SB_CHAT_ADMIN_ONLY: 403,
  SB_CHAT_NOT_FOUND: 404,
  SB_CHAT_USERNAME_TAKEN: 409,
  SB_CHAT_RATE_LIMITED: 429,
  SB_CHAT_MESSAGE_TOO_LONG: 400,
  SB_CHAT_INVALID_REACTION: 400,
  SB_CHAT_TOO_MANY_REACTIONS: 409,
  SB_CHAT_INVALID_NAME: 400,
  SB_CHAT_AVATAR_NOT_IMAGE: 400,
  SB_CHAT_ROOM_LIMIT: 409,
  SB_CHAT_ROOM_NAME_TAKEN: 409,
  SB_CHAT_BLOCKED: 403,
  SB_CHAT_ALREADY_CLAIMED: 409,
  SB_CHAT_AGENT_AT_CAPACITY: 409,
  SB_CHAT_ROOM_ARCHIVED: 409,
  SB_CHAT_INVITE_EXPIRED: 410,
  SB_CHAT_INVITE_USED_UP: 410,
  SB_CHAT_INVITE_REVOKED: 410,
  SB_CHAT_PAYLOAD_TOO_LARGE: 413,
  SB_CHAT_ATTACHMENT_TOO_LARGE: 413,
  SB_CHAT_ATTACHMENT_QUOTA: 413,
  SB_CHAT_METHOD_NOT_ALLOWED: 405,
  SB_CHAT_TYPING_DROPPED: 429,
  SB_CHAT_CONFIG_INVALID: 500,
  SB_CHAT_STORAGE_UNAVAILABLE: 503,
  SB_CHAT_BACKPLANE_UNREACHABLE: 503,
  SB_CHAT_AUTH_UNAVAILABLE: 503,
  SB_CHAT_API_KEY_INVALID: 401,
  SB_CHAT_INTERNAL: 500,
};

/**
 * A refusal with a stable code, raised by the domain services and turned into an HTTP error or a
 * `HubException` at the edge. Its message is meant for the caller and never carries content the
 * caller may not see.
 */
export class ChatError extends Error {
  /** The stable catalogue code. */
  readonly code: ChatErrorCode;
  /** The request field at fault, for `SB_CHAT_INVALID_INPUT`. */
  readonly field: string | undefined;
  /** Seconds to wait, for `SB_CHAT_RATE_LIMITED`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ChatErrorCode,
    message: string,
    options: { field?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'ChatError';
    this.code = code;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The HTTP status for this error. */
  get status(): number {
    return chatErrorStatus[this.code];
  }
}

/** Shorthand for the refusal every authorization rule uses. */
export function forbidden(what: string): ChatError {
  return new ChatError('SB_CHAT_FORBIDDEN', what);
}

/** Shorthand for a missing (or invisible) thing. */
export function notFound(what: string): ChatError {
  return new ChatError('SB_CHAT_NOT_FOUND', what);
}
