/**
 * A person's avatar (`data-testid="avatar"`): their image when they have one (fetched with the
 * token), else their initials on a colour derived from their user id. Every avatar on the page
 * follows the person's profile live (`userUpdated`).
 * @module
 */
import { avatarColour, initialsOf } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { peopleOf } from '../people.ts';
import './people.css';

/** The sizes avatars come in (CSS classes `avatar-s`, `avatar-m`, `avatar-l`). */
export type AvatarSize = 's' | 'm' | 'l';

/** An avatar element for a user, decorative beside their name (`alt=""`) unless `label` is given. */
export function avatar(chat: Chat, userId: string, size: AvatarSize = 's', label?: string): HTMLElement {
  const element = h('span', {
    class: `avatar avatar-${size}`,
    'data-testid': 'avatar',
    'data-avatar-user': userId,
    ...(label ? { role: 'img', 'aria-label': label } : { 'aria-hidden': 'true' }),
  });
  fillAvatar(chat, element, userId);
  return element;
}

/** Draws a user's avatar into an element made by {@link avatar}. */
export function fillAvatar(chat: Chat, element: HTMLElement, userId: string): void {
  const people = peopleOf(chat);
  const user = people.user(userId);
  const initials = initialsOf(user?.displayName ?? '?');
  element.style.backgroundColor = avatarColour(userId);
  element.dataset.avatarUrl = user?.avatarUrl ?? '';
  element.replaceChildren(h('span', { class: 'avatar-initials' }, initials));
  const url = user?.avatarUrl;
  if (!url) return;
  people.avatarObjectUrl(url).then(
    (src) => {
      // Drawn again meanwhile (a newer avatar): leave it.
      if (element.dataset.avatarUrl !== url) return;
      element.replaceChildren(h('img', { src, alt: '', class: 'avatar-img', draggable: 'false' }));
    },
    () => undefined,
  );
}

/** Keeps every avatar on the page in step with profile changes; returns the unsubscribe. */
export function followAvatars(chat: Chat): () => void {
  return peopleOf(chat).onChange((userId) => {
    for (const element of Array.from(
      document.querySelectorAll<HTMLElement>(`[data-avatar-user="${CSS.escape(userId)}"]`),
    )) {
      fillAvatar(chat, element, userId);
    }
  });
}
