/**
 * The profile card (`data-testid="profile-card"`), opened by clicking a person's name anywhere
 * (an element with `data-profile-user`): their avatar, display name, username, presence (online,
 * away, offline) and when last seen, and a "Message" button that opens the direct conversation.
 * @module
 */
import type { PresenceStatus } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { h } from '../dom.ts';
import { peopleOf } from '../people.ts';
import { avatar } from './avatar.ts';
import { openDialog } from './dialog.ts';

/** The words of a presence status. */
export const STATUS_WORDS: Record<PresenceStatus, string> = {
  online: 'Online',
  away: 'Away',
  offline: 'Offline',
};

/** "Last seen 5 minutes ago" style words for an ISO time. */
export function lastSeenWords(at: string | null): string {
  if (!at) return 'Not seen yet';
  const minutes = Math.round((Date.now() - Date.parse(at)) / 60_000);
  if (minutes < 1) return 'Last seen just now';
  if (minutes < 60) return `Last seen ${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  return `Last seen ${new Date(at).toLocaleString()}`;
}

/** Opens the card of a user. `openDirect` opens (or creates) the direct conversation and shows it. */
export function openProfileCard(
  chat: Chat,
  userId: string,
  openDirect: (userId: string) => Promise<void>,
): void {
  const people = peopleOf(chat);
  const user = people.user(userId);
  const name = user?.displayName ?? 'Someone';
  const status = h('p', { class: 'profile-status', 'data-testid': 'profile-presence' });
  const seen = h('p', { class: 'muted', 'data-testid': 'profile-last-seen' });
  const render = () => {
    const p = people.statusOf(userId);
    status.replaceChildren(h('span', { class: `presence-pill ${p.status}` }, ''), STATUS_WORDS[p.status]);
    status.dataset.status = p.status;
    seen.textContent = p.status === 'offline' ? lastSeenWords(p.lastSeenAt) : '';
    seen.hidden = p.status !== 'offline';
  };
  render();
  const own = userId === chat.me.id;
  const message = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      'data-testid': 'profile-message',
      onclick: () => {
        message.disabled = true;
        openDirect(userId).then(
          () => dialog.close(),
          (e) => {
            message.disabled = false;
            dialog.error(errorText(e));
          },
        );
      },
    },
    own ? 'Message yourself' : 'Message',
  );
  const dialog = openDialog(
    name,
    'profile-card',
    h(
      'div',
      { class: 'profile-card' },
      avatar(chat, userId, 'l'),
      h(
        'div',
        {},
        h('p', { class: 'profile-name', 'data-testid': 'profile-name', dir: 'auto' }, name),
        h('p', { class: 'muted', 'data-testid': 'profile-username' }, user ? `@${user.username}` : ''),
        status,
        seen,
      ),
    ),
    user?.isGuest ? null : message,
  );
  const off = people.onChange((id) => {
    if (id === userId) render();
  });
  dialog.element.addEventListener('close', off);
  void people.loadPresence([userId]).catch(() => undefined);
  message.focus();
}

/** The signed-in chat whose names open cards, and how it opens a direct conversation. */
let clicks: { chat: Chat; openDirect: (userId: string) => Promise<void> } | undefined;

/**
 * Opens the profile card on a click (or Enter/Space: they are buttons) on any element with
 * `data-profile-user` in the page, dialogs included, for this chat (the latest signed-in one).
 */
export function followProfileClicks(chat: Chat, openDirect: (userId: string) => Promise<void>): void {
  if (!clicks) {
    document.addEventListener('click', (event) => {
      const target = (event.target as Element | null)?.closest<HTMLElement>('[data-profile-user]');
      if (!target || !clicks) return;
      event.preventDefault();
      openProfileCard(clicks.chat, target.dataset.profileUser!, clicks.openDirect);
    });
  }
  clicks = { chat, openDirect };
}

/**
 * A person's name as a button that opens their card. `fixed`: shown as another word ("You"), not
 * rewritten on profile changes; `tabStop: false`: reached by pointer only (a message keeps one tab
 * stop; the keyboard reaches the card from the members list).
 */
export function nameButton(
  _chat: Chat,
  userId: string,
  text: string,
  options: { className?: string; fixed?: boolean; tabStop?: boolean } = {},
): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      class: `name-button ${options.className ?? ''}`.trim(),
      dir: 'auto',
      'data-profile-user': userId,
      'data-name-user': userId,
      // A name shown as another word ("You") is not rewritten when the profile changes.
      'data-name-fixed': options.fixed ? '' : undefined,
      // Out of the tab order where the container keeps one tab stop (a message: its toolbar).
      tabindex: options.tabStop === false ? -1 : undefined,
      'aria-label': `${text}: show profile`,
    },
    text,
  );
}
