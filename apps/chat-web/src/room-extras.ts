/**
 * Favourites, thread states and invite links on the page: the hub's `favouriteUpdated` and
 * `threadActivity` applied to the chat's state, each room's thread states loaded when it opens, and
 * an invite link opened at `/invite/{token}` kept until someone is signed in to accept it.
 * @module
 */
import type { FavouriteUpdate, Room, ThreadActivity, ThreadState } from '@switchboard/chat-contract';
import { type Chat, errorText } from './chat.ts';
import { h } from './dom.ts';
import { go } from './router.ts';
import { openDialog } from './views/dialog.ts';

/** The caller's thread states, by the thread's first message. */
const states = new WeakMap<Chat, Map<string, ThreadState>>();

function statesOf(chat: Chat): Map<string, ThreadState> {
  let map = states.get(chat);
  if (!map) {
    map = new Map();
    states.set(chat, map);
  }
  return map;
}

/** Registers the handlers of `favouriteUpdated`, `threadActivity` and thread read markers. */
export function wireRoomExtras(chat: Chat): void {
  const hub = chat.link.hub;
  hub.on('favouriteUpdated', (e: FavouriteUpdate) => applyFavourite(chat, e));
  hub.on('threadActivity', (e: ThreadActivity) => {
    // Read already (the thread is open on this page or another device): nothing unread.
    const read = chat.threadReads.get(e.state.messageId) ?? 0;
    statesOf(chat).set(
      e.state.messageId,
      read >= e.state.lastReplySeq ? { ...e.state, lastReadSeq: read, unreadCount: 0 } : e.state,
    );
    chat.changed('timeline');
  });
  hub.on('threadReadUpdated', (e: { messageId: string; lastReadSeq: number }) => {
    const state = statesOf(chat).get(e.messageId);
    if (state && e.lastReadSeq >= state.lastReplySeq)
      statesOf(chat).set(e.messageId, { ...state, lastReadSeq: e.lastReadSeq, unreadCount: 0 });
    chat.changed('timeline');
  });
}

function applyFavourite(chat: Chat, e: FavouriteUpdate): void {
  const room = chat.rooms.get(e.roomId);
  if (!room) return;
  chat.rooms.set(room.id, { ...room, favourite: e.favourite });
  chat.changed('rooms');
}

/** Marks or unmarks a favourite (every device of the user hears of it). */
export async function setFavourite(chat: Chat, roomId: string, favourite: boolean): Promise<void> {
  applyFavourite(chat, await chat.link.invoke<FavouriteUpdate>('setFavourite', { roomId, favourite }));
}

/** Loads the caller's states in the threads of a room. */
export async function loadThreadStates(chat: Chat, roomId: string): Promise<void> {
  const list = await chat.link.invoke<ThreadState[]>('listThreadStates', roomId);
  const map = statesOf(chat);
  for (const [id, state] of map) if (state.roomId === roomId) map.delete(id);
  for (const state of list) map.set(state.messageId, state);
  chat.changed('timeline');
}

/** How many replies of others the caller has not read in a thread they are in (0: none, or not in it). */
export function threadUnreadCount(chat: Chat, messageId: string): number {
  return statesOf(chat).get(messageId)?.unreadCount ?? 0;
}

/** Whether a room is archived (read-only). */
export function isArchived(chat: Chat, roomId: string): boolean {
  return chat.rooms.get(roomId)?.archived === true;
}

const PENDING_KEY = 'switchboard.invite';
const INVITE_PATH = /^\/invite\/([A-Za-z0-9_-]{16,128})\/?$/;

/**
 * Takes an invite link's token out of the address (`/invite/{token}`, which becomes `/`) and keeps
 * it in this tab until someone signed in accepts it.
 */
export function takeInviteFromAddress(): void {
  const match = INVITE_PATH.exec(location.pathname);
  if (!match) return;
  sessionStorage.setItem(PENDING_KEY, match[1]!);
  history.replaceState(null, '', '/');
}

/** The token of an invite link waiting for a sign-in, if any. */
export function pendingInvite(): string | undefined {
  return sessionStorage.getItem(PENDING_KEY) ?? undefined;
}

/** What the sign-in screen says while an invite link waits (null when none). */
export function inviteNotice(): HTMLElement | null {
  if (!pendingInvite()) return null;
  return h(
    'p',
    { class: 'card invite-notice', 'data-testid': 'invite-notice', role: 'status' },
    'You were invited to a room. Sign in or create an account to join it. ',
    'Guests (support conversations) cannot join rooms.',
  );
}

/** Accepts the waiting invite link (if any) and opens its room; a refusal is shown in a dialog. */
export async function acceptPendingInvite(chat: Chat): Promise<void> {
  const token = pendingInvite();
  if (!token) return;
  sessionStorage.removeItem(PENDING_KEY);
  try {
    const room = await chat.link.invoke<Room>('acceptInvite', token);
    await chat.loadRooms();
    await go(chat, { roomId: room.id });
  } catch (error) {
    openDialog(
      'This invite link cannot be used',
      'invite-error',
      h('p', { 'data-testid': 'invite-error-text' }, inviteRefusal(error)),
    );
  }
}

/** The words for an invite link's refusal. */
function inviteRefusal(error: unknown): string {
  const text = errorText(error);
  if (/SB_CHAT_INVITE_EXPIRED/.test(String(error))) return 'This invite link has expired. Ask for a new one.';
  if (/SB_CHAT_INVITE_USED_UP/.test(String(error)))
    return 'This invite link was used as many times as it allows. Ask for a new one.';
  if (/SB_CHAT_INVITE_REVOKED/.test(String(error))) return 'This invite link was revoked. Ask for a new one.';
  return text;
}
