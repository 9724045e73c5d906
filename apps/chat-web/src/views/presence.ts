/**
 * Presence in the members list: each member's avatar, name (opening their profile card), username
 * and status (online, away, offline), kept live by `presenceChanged` and `userUpdated`.
 * @module
 */
import type { User } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { peopleOf } from '../people.ts';
import { avatar } from './avatar.ts';
import { nameButton, STATUS_WORDS } from './profile-card.ts';

/** One member of a room: avatar, name, username and role, presence. */
export function memberRow(chat: Chat, user: User): HTMLElement {
  const status = h('span', {
    class: 'member-status',
    'data-testid': 'member-presence',
    'data-presence-user': user.id,
  });
  fillStatus(chat, status, user.id);
  return h(
    'li',
    { 'data-testid': 'member-item', class: 'member-row' },
    avatar(chat, user.id, 'm'),
    nameButton(chat, user.id, user.displayName),
    h('span', { class: 'muted' }, `@${user.username}${user.role !== 'user' ? ` · ${user.role}` : ''}`),
    status,
  );
}

function fillStatus(chat: Chat, element: HTMLElement, userId: string): void {
  const { status } = peopleOf(chat).statusOf(userId);
  element.dataset.status = status;
  element.replaceChildren(
    h('span', { class: `presence-pill ${status}`, 'aria-hidden': 'true' }),
    STATUS_WORDS[status],
  );
}

/**
 * Keeps every presence label and every name shown as a profile button in step with the people
 * they show; returns the unsubscribe.
 */
export function followPeople(chat: Chat): () => void {
  return peopleOf(chat).onChange((userId) => {
    const id = CSS.escape(userId);
    for (const element of Array.from(document.querySelectorAll<HTMLElement>(`[data-presence-user="${id}"]`)))
      fillStatus(chat, element, userId);
    const name = chat.nameOf(userId);
    for (const element of Array.from(document.querySelectorAll<HTMLElement>(`[data-name-user="${id}"]`))) {
      if (element.dataset.nameFixed !== undefined) continue;
      element.textContent = name;
      if (element.hasAttribute('aria-label')) element.setAttribute('aria-label', `${name}: show profile`);
    }
  });
}

/** Loads the presence of a room's members (the members list asks when it opens). */
export function loadMembersPresence(chat: Chat, users: readonly User[]): void {
  void peopleOf(chat)
    .loadPresence(users.map((u) => u.id))
    .catch(() => undefined);
}
