/**
 * The signed-in person in the page's header: their avatar and display name (`me-name`), kept live,
 * and the button to their account settings; also starts what keeps avatars, names and presence
 * live across the page and opens profile cards on clicks of names.
 * @module
 */
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { openAccountSettings } from './account-settings.ts';
import { avatar, followAvatars } from './avatar.ts';
import { followPeople } from './presence.ts';
import { followProfileClicks } from './profile-card.ts';

/**
 * The header's part for the signed-in person. Guests get their name only (they have no profile to
 * change). `signOut` ends this browser's session (after "sign out everywhere").
 */
export function meBadge(chat: Chat, signOut: () => void): HTMLElement {
  const name = h('span', { 'data-testid': 'me-name', 'data-name-user': chat.me.id }, chat.me.displayName);
  if (chat.me.isGuest) return name;
  followAvatars(chat);
  followPeople(chat);
  followProfileClicks(chat, async (userId) => {
    await chat.openDirect([userId]);
  });
  return h(
    'span',
    { class: 'me-badge' },
    avatar(chat, chat.me.id, 'm'),
    name,
    h(
      'button',
      {
        type: 'button',
        'data-testid': 'account-settings-open',
        onclick: () => openAccountSettings(chat, signOut),
      },
      'Account',
    ),
  );
}
