/**
 * The side list: rooms, direct conversations and support conversations, with unread and mention
 * badges and one presence dot per person; the buttons to create, browse and find.
 * @module
 */

import type { RoomSummary } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h, replaceChildren } from '../dom.ts';
import { notifierOf } from '../notifications.ts';
import { avatar } from './avatar.ts';

/** Callbacks of the side list. */
export interface SidebarActions {
  newRoom(): void;
  browseRooms(): void;
  findPeople(): void;
  showQueue(): void;
  openRoom(roomId: string): void;
}

/** Renders the side list and keeps it current; returns its element. */
export function createSidebar(chat: Chat, actions: SidebarActions): HTMLElement {
  const list = h('ul', { class: 'room-list', 'data-testid': 'room-list', 'aria-label': 'Conversations' });
  const nav = h(
    'nav',
    { class: 'sidebar', 'aria-label': 'Rooms and people' },
    h(
      'div',
      { class: 'sidebar-actions' },
      h('button', { type: 'button', 'data-testid': 'new-room', onclick: actions.newRoom }, '+ New room'),
      h(
        'button',
        { type: 'button', 'data-testid': 'browse-rooms', onclick: actions.browseRooms },
        'Browse rooms',
      ),
      h(
        'button',
        { type: 'button', 'data-testid': 'find-people', onclick: actions.findPeople },
        'Find people',
      ),
      chat.isAgent
        ? h(
            'button',
            { type: 'button', 'data-testid': 'support-queue-link', onclick: actions.showQueue },
            'Support queue',
          )
        : null,
    ),
    list,
  );
  const item = (room: RoomSummary) => {
    const others = (chat.members.get(room.id) ?? []).filter((id) => id !== chat.me.id);
    const dots =
      room.isDirect || room.kind === 'support'
        ? others.map((id) => {
            const online = chat.presence.get(id) === true;
            return h('span', {
              class: `presence ${online ? 'online' : 'offline'}`,
              'data-testid': 'presence-dot',
              'data-user-id': id,
              'data-online': String(online),
              role: 'img',
              'aria-label': `${chat.nameOf(id)} is ${online ? 'online' : 'offline'}`,
            });
          })
        : [];
    const badges =
      notifierOf(chat).levelOf(room) === 'muted'
        ? mutedBadge(room)
        : [
            room.mentionCount > 0
              ? h(
                  'span',
                  {
                    class: 'badge mention',
                    'data-testid': 'mention-badge',
                    'aria-label': `${room.mentionCount} mentions`,
                  },
                  `@${room.mentionCount}`,
                )
              : null,
            room.unreadCount > 0
              ? h(
                  'span',
                  {
                    class: 'badge',
                    'data-testid': 'unread-badge',
                    'aria-label': `${room.unreadCount} unread`,
                  },
                  String(room.unreadCount),
                )
              : null,
          ];
    const prefix = room.isDirect ? '' : room.kind === 'support' ? '🛟 ' : '# ';
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: `room-item${room.id === chat.current ? ' current' : ''}`,
          'data-testid': 'room-item',
          'data-room-id': room.id,
          'data-key': `room-${room.id}`,
          'aria-current': room.id === chat.current ? 'page' : undefined,
          onclick: () => actions.openRoom(room.id),
        },
        h('span', { class: 'dots' }, ...dots),
        room.isDirect && others[0] ? avatar(chat, others[0], 's') : null,
        h('span', { class: 'room-name' }, prefix + chat.titleOf(room)),
        ...badges,
      ),
    );
  };
  const render = () => {
    const rooms = [...chat.rooms.values()];
    const order = (r: RoomSummary) => (r.kind === 'room' ? 0 : r.isDirect ? 1 : 2);
    rooms.sort((a, b) => order(a) - order(b) || chat.titleOf(a).localeCompare(chat.titleOf(b)));
    replaceChildren(
      list,
      rooms.length === 0 ? [h('li', { class: 'empty' }, 'No conversations yet.')] : rooms.map(item),
    );
  };
  chat.on('rooms', render);
  chat.on('presence', render);
  chat.on('members', render);
  render();
  return nav;
}

/** A muted room's sign of unread messages: a dot, no count. */
function mutedBadge(room: RoomSummary): HTMLElement[] {
  if (room.unreadCount === 0) return [];
  return [
    h('span', {
      class: 'badge dot',
      'data-testid': 'muted-dot',
      role: 'img',
      'aria-label': 'Unread messages (muted)',
    }),
  ];
}
