/**
 * The side list in sections (`sidebar-section`): Favourites (rooms the user marked, on top), Rooms,
 * Direct messages and Support, with unread and mention badges, one presence dot per person and a
 * star (`room-favourite`) per conversation; the buttons to create, browse and find.
 * @module
 */

import type { RoomSummary } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h, replaceChildren } from '../dom.ts';
import { notifierOf } from '../notifications.ts';
import { setFavourite } from '../room-extras.ts';
import { avatar } from './avatar.ts';
import './rooms-extras.css';

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
  const list = h('div', { class: 'room-list', 'data-testid': 'room-list' });
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
    const title = chat.titleOf(room);
    return h(
      'li',
      { class: 'room-row' },
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
        h('span', { class: 'room-name' }, prefix + title),
        ...badges,
      ),
      favouriteButton(chat, room, title),
    );
  };
  const render = () => {
    const rooms = [...chat.rooms.values()];
    rooms.sort((a, b) => chat.titleOf(a).localeCompare(chat.titleOf(b)));
    const sections: [string, string, RoomSummary[]][] = [
      ['favourites', 'Favourites', rooms.filter((r) => r.favourite)],
      ['rooms', 'Rooms', rooms.filter((r) => !r.favourite && r.kind === 'room')],
      ['direct', 'Direct messages', rooms.filter((r) => !r.favourite && r.isDirect)],
      ['support', 'Support', rooms.filter((r) => !r.favourite && r.kind === 'support')],
    ];
    replaceChildren(
      list,
      rooms.length === 0
        ? [h('p', { class: 'empty' }, 'No conversations yet.')]
        : sections
            .filter(([, , items]) => items.length > 0)
            .map(([key, label, items]) =>
              h(
                'section',
                {
                  class: 'sidebar-section',
                  'data-testid': 'sidebar-section',
                  'data-section': key,
                  'aria-labelledby': `sidebar-${key}`,
                },
                h('h2', { id: `sidebar-${key}` }, label),
                h('ul', { class: 'room-items' }, ...items.map(item)),
              ),
            ),
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

/** The star that marks or unmarks a conversation a favourite. */
export function favouriteButton(chat: Chat, room: RoomSummary, title: string): HTMLElement {
  const on = room.favourite === true;
  return h(
    'button',
    {
      type: 'button',
      class: `favourite${on ? ' on' : ''}`,
      'data-testid': 'room-favourite',
      'data-room-id': room.id,
      'data-key': `favourite-${room.id}`,
      'aria-pressed': String(on),
      'aria-label': on ? `Remove ${title} from favourites` : `Add ${title} to favourites`,
      title: on ? 'Remove from favourites' : 'Add to favourites',
      onclick: () => void setFavourite(chat, room.id, !on).catch(() => undefined),
    },
    on ? '★' : '☆',
  );
}
