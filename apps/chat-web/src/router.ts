/**
 * The page's address follows the room shown: `#/rooms/<id>`, and `#/rooms/<id>/messages/<messageId>`
 * for one message. A reload opens the same room, a link opens its room (at its message), and the
 * browser's back and forward buttons move between rooms.
 * @module
 */
import type { Chat } from './chat.ts';

/** What an address points at. */
export interface Route {
  readonly roomId?: string;
  readonly messageId?: string;
}

/** Reads `#/rooms/<id>[/messages/<messageId>]`; anything else is no room. */
export function parseRoute(hash: string): Route {
  const match = /^#\/rooms\/([^/]+)(?:\/messages\/([^/]+))?\/?$/.exec(hash);
  if (!match) return {};
  const roomId = decodeURIComponent(match[1]!);
  return match[2] ? { roomId, messageId: decodeURIComponent(match[2]) } : { roomId };
}

/** The hash of a room, or of one message in it. */
export function routeHash(route: Route): string {
  if (!route.roomId) return '#/';
  const room = `#/rooms/${encodeURIComponent(route.roomId)}`;
  return route.messageId ? `${room}/messages/${encodeURIComponent(route.messageId)}` : room;
}

/** The full address of a room (or one of its messages), to share. */
export function roomAddress(roomId: string, messageId?: string): string {
  return `${location.origin}${location.pathname}${routeHash({ roomId, messageId })}`;
}

/** The room the address names (kept in step with the room shown). */
let shown: string | undefined;

/** Opens a room (at one message) and records its address in the history. */
export function go(chat: Chat, route: Route): Promise<void> {
  const hash = routeHash(route);
  if (location.hash !== hash) history.pushState(null, '', hash);
  shown = route.roomId;
  return chat.open(route.roomId, route.messageId ? { messageId: route.messageId } : undefined);
}

/**
 * Keeps the address and the room shown in step: opens the room of the address now (once the rooms
 * are listed) and on back/forward, and records each room opened in the history.
 */
export function startRouting(chat: Chat): () => void {
  shown = parseRoute(location.hash).roomId;
  const follow = () => {
    const route = parseRoute(location.hash);
    shown = route.roomId;
    if (route.roomId === chat.current && !route.messageId) return;
    void chat.open(route.roomId, route.messageId ? { messageId: route.messageId } : undefined);
  };
  const record = () => {
    if (chat.current === shown) return;
    shown = chat.current;
    history.pushState(null, '', routeHash({ roomId: chat.current }));
  };
  // Back, forward, a link followed, an address typed: the hash changes.
  window.addEventListener('hashchange', follow);
  const off = chat.on('rooms', record);
  if (parseRoute(location.hash).roomId) follow();
  return () => {
    off();
    window.removeEventListener('hashchange', follow);
  };
}
