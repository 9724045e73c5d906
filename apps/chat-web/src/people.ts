/**
 * People in the page: profiles and presence beyond what the chat's core state keeps. It follows
 * `userUpdated` (a display name or avatar changed: the user map, the session when it is the caller,
 * and every view showing that person) and `presenceChanged` (online, away, offline and when last
 * seen), fetches avatars with the token once per page (object URLs, as attachments are), and
 * talks to the profile routes (`PATCH /api/users/{id}`, `PUT`/`DELETE /api/users/{id}/avatar`,
 * `POST /api/auth/password`, `POST /api/auth/logout-everywhere`).
 * @module
 */
import type { Presence, PresenceStatus, User, UserUpdate } from '@switchboard/chat-contract';
import type { Chat } from './chat.ts';
import { ApiError, loadSession, type Session, saveSession } from './session.ts';

/** What the page knows of a person's presence. */
export interface PersonPresence {
  readonly status: PresenceStatus;
  readonly lastSeenAt: string | null;
}

/** Profiles and presence of the people the signed-in user meets. */
export class People {
  /** Presence by user id, as last heard. */
  readonly presence = new Map<string, PersonPresence>();
  private readonly listeners = new Set<(userId: string) => void>();
  private readonly avatars = new Map<string, Promise<string>>();

  constructor(readonly chat: Chat) {
    const hub = chat.link.hub;
    hub.on('userUpdated', (event: UserUpdate) => this.applyUser(event.user));
    hub.on('presenceChanged', (p: Presence) => this.applyPresence(p));
  }

  /** Calls `listener(userId)` whenever a person's profile or presence changed; returns the unsubscribe. */
  onChange(listener: (userId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A user as the page knows them. */
  user(userId: string): User | undefined {
    return this.chat.users.get(userId);
  }

  /** Takes a profile as it is now: the user map, the kept session when it is the caller, every view. */
  applyUser(user: User): void {
    this.chat.users.set(user.id, user);
    if (user.id === this.chat.me.id) {
      (this.chat.session as { user: User }).user = user;
      const kept = loadSession();
      if (kept && kept.user.id === user.id) saveSession({ ...kept, user });
    }
    this.chat.changed('rooms');
    this.chat.changed('members');
    this.chat.changed('timeline');
    this.notify(user.id);
  }

  /** Takes a presence event or answer. */
  applyPresence(p: Presence): void {
    const status: PresenceStatus = p.status ?? (p.online ? 'online' : 'offline');
    this.presence.set(p.userId, { status, lastSeenAt: p.lastSeenAt });
    this.notify(p.userId);
  }

  /** Asks the server for these people's presence (people who share a room with the caller). */
  async loadPresence(userIds: readonly string[]): Promise<void> {
    const ids = [...new Set(userIds)].slice(0, 200);
    if (ids.length === 0) return;
    const list = await this.chat.link.invoke<Presence[]>('getPresence', ids);
    for (const p of list) this.applyPresence(p);
  }

  /** A person's presence, `offline` when unknown. */
  statusOf(userId: string): PersonPresence {
    const known = this.presence.get(userId);
    if (known) return known;
    const online = this.chat.presence.get(userId);
    return { status: online ? 'online' : 'offline', lastSeenAt: null };
  }

  /** An object URL of an avatar, fetched with the token once per page. */
  avatarObjectUrl(url: string): Promise<string> {
    let objectUrl = this.avatars.get(url);
    if (!objectUrl) {
      objectUrl = fetch(url, { headers: { Authorization: `Bearer ${this.chat.token}` } }).then(
        async (response) => {
          if (!response.ok) throw new Error(`The avatar could not be loaded (${response.status}).`);
          return URL.createObjectURL(await response.blob());
        },
      );
      objectUrl.catch(() => this.avatars.delete(url));
      this.avatars.set(url, objectUrl);
    }
    return objectUrl;
  }

  /** Changes the caller's display name. */
  async setDisplayName(displayName: string): Promise<User> {
    const user = await this.call<{ user: User }>('PATCH', `/api/users/${this.me()}`, { displayName });
    this.applyUser(user.user);
    return user.user;
  }

  /** Sets the caller's avatar (a square image the page cropped). */
  async setAvatar(image: Blob, name: string): Promise<User> {
    const form = new FormData();
    form.append('file', image, name);
    const user = await this.call<{ user: User }>('PUT', `/api/users/${this.me()}/avatar`, form);
    this.applyUser(user.user);
    return user.user;
  }

  /** Removes the caller's avatar (initials again). */
  async removeAvatar(): Promise<User> {
    const user = await this.call<{ user: User }>('DELETE', `/api/users/${this.me()}/avatar`);
    this.applyUser(user.user);
    return user.user;
  }

  /** Marks the caller away (or back). */
  async setAway(away: boolean): Promise<void> {
    this.applyPresence(await this.chat.link.invoke<Presence>('setAway', { away }));
  }

  /** Changes the password: the server answers a new session; every other session ends. */
  async changePassword(currentPassword: string, newPassword: string): Promise<Session> {
    // The server ends every connection of the account before it answers: this tab's link waits
    // aside meanwhile, so that it never reconnects with the old token (and gets signed out).
    await this.chat.link.stop();
    try {
      const session = await this.call<Session>('POST', '/api/auth/password', {
        currentPassword,
        newPassword,
      });
      saveSession({ token: session.token, user: session.user });
      (this.chat.session as { token: string }).token = session.token;
      return session;
    } finally {
      this.chat.link.start();
    }
  }

  /** Ends every session and connection of the caller, on every device and node. */
  async signOutEverywhere(): Promise<void> {
    await this.call<void>('POST', '/api/auth/logout-everywhere');
  }

  private me(): string {
    return encodeURIComponent(this.chat.me.id);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const isForm = body instanceof FormData;
    const response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${this.chat.token}`,
        ...(body === undefined || isForm ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    if (!response.ok) {
      const error = (data?.error ?? {}) as { message?: string; field?: string };
      throw new ApiError(
        response.status,
        error.message ?? `Request failed (${response.status}).`,
        error.field,
      );
    }
    return data as T;
  }

  private notify(userId: string): void {
    for (const listener of this.listeners) listener(userId);
  }
}

const instances = new WeakMap<Chat, People>();

/** The one {@link People} of a chat (created, and its events wired, at the first call). */
export function peopleOf(chat: Chat): People {
  let people = instances.get(chat);
  if (!people) {
    people = new People(chat);
    instances.set(chat, people);
  }
  return people;
}
