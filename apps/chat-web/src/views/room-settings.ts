/**
 * A room's settings (`room-settings`) for its owner or an admin: name, topic, public or private,
 * archive and restore (`updateRoom` on the hub), and invite links (invite-links.ts). The topic shows under the room's title
 * (`room-topic`); an archived room is read-only. Every member's page takes a change from
 * `roomUpdated` (`change: 'updated'`).
 * @module
 */
import type { Room, RoomUpdate } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { h } from '../dom.ts';
import { openDialog } from './dialog.ts';
import { inviteLinksSection } from './invite-links.ts';

const wired = new WeakSet<Chat>();

/** Keeps the page's rooms in step with settings changed anywhere (wired once per chat). */
export function followRoomSettings(chat: Chat): void {
  if (wired.has(chat)) return;
  wired.add(chat);
  chat.link.hub.on('roomUpdated', (e: RoomUpdate) => {
    if (e.change !== 'updated') return;
    const room = chat.rooms.get(e.room.id);
    if (room) chat.rooms.set(room.id, { ...room, ...e.room });
    chat.changed('rooms');
  });
}

/** Whether the user may change the room's settings. */
export function canManage(chat: Chat, room: Room | undefined): boolean {
  return Boolean(
    room &&
      room.kind === 'room' &&
      !chat.me.isGuest &&
      (room.ownerId === chat.me.id || chat.me.role === 'admin'),
  );
}

/** The room header's "Settings" button, or null for those who may not change them. */
export function roomSettingsButton(chat: Chat, roomId: string): HTMLElement | null {
  if (!canManage(chat, chat.rooms.get(roomId))) return null;
  return h(
    'button',
    { type: 'button', 'data-testid': 'room-settings-open', onclick: () => roomSettingsDialog(chat, roomId) },
    'Settings',
  );
}

/** The topic line under the title (empty when none). */
export function topicLine(): { element: HTMLElement; render(room: Room | undefined): void } {
  const element = h('p', { class: 'room-topic', 'data-testid': 'room-topic', dir: 'auto' });
  return {
    element,
    render(room) {
      const parts = [room?.archived ? 'Archived (read-only)' : '', room?.topic ?? ''].filter(Boolean);
      element.textContent = parts.join(' · ');
      element.hidden = parts.length === 0;
    },
  };
}

/** Opens the settings of a room. */
export function roomSettingsDialog(chat: Chat, roomId: string): void {
  const room = chat.rooms.get(roomId);
  if (!room) return;
  const name = h('input', { id: 'room-settings-name', value: room.name, maxlength: 80, required: true });
  const topic = h('input', { id: 'room-settings-topic', value: room.topic ?? '', maxlength: 250 });
  const isPrivate = h('input', { type: 'checkbox', id: 'room-settings-private', checked: room.isPrivate });
  const save = async (changes: Record<string, unknown>) => {
    try {
      await chat.link.invoke('updateRoom', { roomId, ...changes });
      dialog.close();
    } catch (error) {
      dialog.error(errorText(error));
    }
  };
  const form = h(
    'form',
    { class: 'room-settings-form' },
    h('label', { for: 'room-settings-name' }, 'Name'),
    name,
    h('label', { for: 'room-settings-topic' }, 'Topic'),
    topic,
    h('label', { class: 'check' }, isPrivate, ' Private (only people invited can join)'),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'room-settings-save' }, 'Save'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const changes: Record<string, unknown> = {};
    if (name.value.trim() !== room.name) changes.name = name.value.trim();
    if (topic.value.trim() !== (room.topic ?? '')) changes.topic = topic.value.trim();
    if (isPrivate.checked !== room.isPrivate) changes.isPrivate = isPrivate.checked;
    if (Object.keys(changes).length === 0) dialog.close();
    else void save(changes);
  });
  const archive = h(
    'button',
    {
      type: 'button',
      'data-testid': 'room-settings-archive',
      onclick: () => void save({ archived: !room.archived }),
    },
    room.archived ? 'Restore this room' : 'Archive this room (read-only)',
  );
  const dialog = openDialog(
    `Settings: ${room.name}`,
    'room-settings',
    form,
    archive,
    // An archived room takes no new members.
    room.archived ? null : inviteLinksSection(chat, roomId),
  );
}
