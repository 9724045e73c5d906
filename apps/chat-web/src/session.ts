/**
 * The auth API (`/api/auth/*`) and the session kept in localStorage, so that a reload stays signed
 * in.
 * @module
 */
import type { Session as ServerSession, User } from '@switchboard/chat-contract';

/** The session this browser keeps: the token and who it is (the server's answer also has `expiresAt`). */
export type Session = Pick<ServerSession, 'token' | 'user'>;

/** The localStorage key of the session. */
export const SESSION_KEY = 'switchboard.session';

/** An answer of the API that was not a success: its status and the server's message and field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function post(path: string, body: unknown, token?: string): Promise<unknown> {
  const response = await fetch(path, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body ?? {}),
  });
  const text = await response.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  if (!response.ok) {
    const error = (data?.error ?? {}) as { message?: string; field?: string };
    throw new ApiError(response.status, error.message ?? `Request failed (${response.status}).`, error.field);
  }
  return data;
}

/** Signs in with a username and password. */
export function login(username: string, password: string): Promise<Session> {
  return post('/api/auth/login', { username, password }) as Promise<Session>;
}

/** Creates an account and signs in. */
export function register(username: string, password: string, displayName: string): Promise<Session> {
  return post('/api/auth/register', { username, password, displayName }) as Promise<Session>;
}

/** A guest session for a support customer. */
export function guest(displayName: string): Promise<Session> {
  return post('/api/auth/guest', { displayName }) as Promise<Session>;
}

/** A fresh token for a valid one (the old one stops working). */
export function refresh(token: string): Promise<Session> {
  return post('/api/auth/refresh', {}, token) as Promise<Session>;
}

/** Ends the token on the server (every node); errors are ignored, the session is dropped anyway. */
export async function logout(token: string): Promise<void> {
  await post('/api/auth/logout', {}, token).catch(() => undefined);
}

/** Checks a stored token: the current user, or undefined when the server refuses the token. */
export async function me(token: string): Promise<User | undefined> {
  const response = await fetch('/api/me', { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) return undefined;
  if (!response.ok) throw new ApiError(response.status, `Request failed (${response.status}).`);
  return ((await response.json()) as { user: User }).user;
}

/** The session kept by an earlier visit, if any. */
export function loadSession(): Session | undefined {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    const session = raw ? (JSON.parse(raw) as Session) : undefined;
    return session && typeof session.token === 'string' && session.user ? session : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps the session for reloads. */
export function saveSession(session: Session): void {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

/** Forgets the session. */
export function clearSession(): void {
  localStorage.removeItem(SESSION_KEY);
}

/** The localStorage key of a guest's session kept at sign-out, to come back to the conversation. */
export const GUEST_KEY = 'switchboard.guest';

/** Keeps a guest's session after sign-out (its token stays valid; it is not revoked). */
export function keepGuest(session: Session): void {
  localStorage.setItem(GUEST_KEY, JSON.stringify(session));
}

/** A guest's session kept at an earlier sign-out, if any. */
export function keptGuest(): Session | undefined {
  try {
    const raw = localStorage.getItem(GUEST_KEY);
    const session = raw ? (JSON.parse(raw) as Session) : undefined;
    return session && typeof session.token === 'string' && session.user?.isGuest ? session : undefined;
  } catch {
    return undefined;
  }
}

/** Forgets a kept guest session. */
export function forgetGuest(): void {
  localStorage.removeItem(GUEST_KEY);
}
