/**
 * Inbox mode: the user's rooms and direct messages, newest first, with unread counts; a room opens
 * in place (the back button returns to the list, all in memory). With a room given, that one
 * conversation only.
 * @module
 */
import type { Message, RoomSummary, User } from '@switchboard/chat-contract';
import { h } from '../dom.ts';
import { type ConversationView, conversationView } from './conversation.ts';
import type { WidgetChat } from './widget-chat.ts';

/** Renders the inbox into `container`. */
export function renderInbox(chat: WidgetChat, container: HTMLElement, onlyRoom?: string): void {
  const rooms = new Map<
    string,
    Omit<RoomSummary, 'lastMessage'> & { lastMessage: Message | null; title: string; unread: number }
  >();
  let open: { roomId: string; view: ConversationView } | undefined;

  const load = async () => {
    const list = await chat.link.invoke<RoomSummary[]>('listRooms');
    await Promise.all(
      list.map(async (room) => {
        let title = room.name;
        if (room.isDirect) {
          const members = await chat.link
            .invoke<User[]>('listRoomMembers', room.id)
            .catch(() => [] as User[]);
          for (const m of members) chat.users.set(m.id, m);
          const others = members.filter((m) => m.id !== chat.me.id).map((m) => m.displayName);
          if (others.length > 0) title = others.join(', ');
        }
        rooms.set(room.id, { ...room, title, unread: room.unreadCount });
      }),
    );
  };

  const openRoom = (roomId: string, withBack: boolean) => {
    open?.view.dispose();
    const room = rooms.get(roomId);
    if (room) room.unread = 0;
    const view = conversationView(chat, roomId, {
      title: room?.title ?? 'Conversation',
      visible: () => document.visibilityState === 'visible',
      ...(withBack ? { back: () => showList(roomId) } : {}),
    });
    open = { roomId, view };
    container.replaceChildren(view.element);
    view.focus();
  };

  const showList = (focusRoom?: string) => {
    open?.view.dispose();
    open = undefined;
    const sorted = [...rooms.values()].sort(
      (a, b) =>
        (b.lastMessage?.sentAt ?? '').localeCompare(a.lastMessage?.sentAt ?? '') ||
        a.title.localeCompare(b.title),
    );
    const items = sorted.map((room) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'room',
            'data-testid': 'room-item',
            'data-room-id': room.id,
            onclick: () => openRoom(room.id, true),
          },
          h('span', { class: 'name' }, room.isDirect ? `@ ${room.title}` : `# ${room.title}`),
          room.unread > 0
            ? h(
                'span',
                { class: 'count', 'data-testid': 'room-unread', 'aria-label': `${room.unread} unread` },
                String(room.unread),
              )
            : null,
        ),
      ),
    );
    container.replaceChildren(
      h(
        'section',
        { class: 'inbox', 'aria-labelledby': 'inbox-title' },
        h('header', { class: 'bar' }, h('h1', { class: 'title', id: 'inbox-title' }, 'Messages')),
        items.length > 0
          ? h('ul', { class: 'rooms', 'data-testid': 'room-list' }, ...items)
          : h('p', { class: 'empty' }, 'No conversations yet.'),
      ),
    );
    if (focusRoom) container.querySelector<HTMLElement>(`[data-room-id="${CSS.escape(focusRoom)}"]`)?.focus();
  };

  chat.onMessage((m) => {
    const room = rooms.get(m.roomId);
    if (!room) {
      if (!onlyRoom) void load().then(() => !open && showList());
      return;
    }
    room.lastMessage = m;
    if (open?.roomId !== m.roomId && m.senderId !== chat.me.id) room.unread += 1;
    if (!open && !onlyRoom) showList();
  });

  void load().then(() => {
    if (onlyRoom) openRoom(onlyRoom, false);
    else showList();
  });
}
