/**
 * A small client of the chat's server API (`/api/v1`, `Authorization: Bearer <API key>`), for
 * the routes this app uses. User ids are this app's own ids: the `sub` of its chat tokens.
 * @module
 */
import type { ChatRole } from './directory.ts';

/** A user as the server API shows it. */
export interface ChatApiUser {
  id: string;
  chatUserId: string;
  displayName: string;
  role: ChatRole;
  avatarUrl: string | null;
}

/** A room as the server API shows it. */
export interface ChatApiRoom {
  id: string;
  name: string;
  kind: 'room' | 'direct' | 'support';
  isPrivate: boolean;
}

/** A message as the server API shows it. */
export interface ChatApiMessage {
  id: string;
  roomId: string;
  seq: number;
  senderId: string;
  userId: string | null;
  system: boolean;
  text: string;
  sentAt: string;
}

/** A refusal of the server API: its status and `{error: {code, message, field?}}`. */
export class ChatApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ChatApiError';
  }
}

/** Calls the chat's server API with one API key. */
export class ChatApi {
  constructor(
    private readonly chatUrl: string,
    private readonly apiKey: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Creates or updates a user (`PUT /api/v1/users/{id}`). */
  async upsertUser(
    id: string,
    profile: { displayName?: string; role?: ChatRole; avatarUrl?: string | null },
  ): Promise<ChatApiUser> {
    const answer = await this.call<{ user: ChatApiUser }>('PUT', `/users/${encodeURIComponent(id)}`, profile);
    return answer.user;
  }

  /** Creates a room with these members (`POST /api/v1/rooms`); the users must exist in the chat. */
  createRoom(body: { name: string; private: boolean; members: string[] }): Promise<{
    room: ChatApiRoom;
    members: ChatApiUser[];
  }> {
    return this.call('POST', '/rooms', body);
  }

  /** A room and its members (`GET /api/v1/rooms/{id}`). */
  getRoom(roomId: string): Promise<{ room: ChatApiRoom; members: ChatApiUser[] }> {
    return this.call('GET', `/rooms/${encodeURIComponent(roomId)}`);
  }

  /** Posts as `userId` (a member), or a system message without one (`POST /api/v1/rooms/{id}/messages`). */
  async postMessage(
    roomId: string,
    body: { text: string; userId?: string; clientMessageId?: string },
  ): Promise<ChatApiMessage> {
    const answer = await this.call<{ message: ChatApiMessage }>(
      'POST',
      `/rooms/${encodeURIComponent(roomId)}/messages`,
      body,
    );
    return answer.message;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.chatUrl}/api/v1${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.apiKey}`,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)
        ?.error;
      throw new ChatApiError(
        response.status,
        error?.code ?? 'HTTP_ERROR',
        error?.message ?? (text.slice(0, 200) || response.statusText),
        error?.field,
      );
    }
    return json as T;
  }
}
