/**
 * The signed-in page: header (search, who is signed in, sign out), the connection banner, the side
 * list and the main area (a room, the support queue, or the customer's conversation).
 * @module
 */
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { notifierOf } from '../notifications.ts';
import { themeToggle } from '../theme.ts';
import { adminLink, createAdminView, isAdmin, isAdminRoute } from './admin.ts';
import { confirmDialog } from './confirm.ts';
import { renderCustomer } from './customer.ts';
import {
  browseRoomsDialog,
  createRoomDialog,
  findPeopleDialog,
  inviteDialog,
  membersDialog,
  searchDialog,
} from './dialogs.ts';
import { meBadge } from './me-badge.ts';
import { createQueueView, customerName } from './queue.ts';
import { createRoomView } from './room.ts';
import { createSidebar } from './sidebar.ts';

/** The page's title without badges. */
export const PAGE_TITLE = 'Switchboard chat';

/**
 * How a sign-out ends: `keepGuest` keeps a guest's session on this browser so that they can come
 * back to their conversation ("Continue my conversation" on the first screen).
 */
export type SignOut = (options?: { keepGuest?: boolean }) => void;

/** Asks a guest before signing out: their conversation is kept, unless they want it forgotten. */
async function guestSignOut(signOut: SignOut): Promise<void> {
  const forget = h('input', { type: 'checkbox', 'data-testid': 'guest-forget' });
  const yes = await confirmDialog({
    title: 'Sign out?',
    text:
      'Your conversation with the support team is kept. To come back to it, open this page again ' +
      'on this browser and choose "Continue my conversation" (for up to 30 days).',
    ok: 'Sign out',
    cancel: 'Stay',
    extra: h('label', { class: 'check' }, forget, ' Forget it on this browser (a shared computer)'),
  });
  if (yes) signOut({ keepGuest: !forget.checked });
}

/** Renders the signed-in chat into `root`; `signOut` ends the session. */
export function renderShell(root: HTMLElement, chat: Chat, signOut: SignOut): void {
  const banner = h(
    'div',
    { class: 'connection-banner', 'data-testid': 'connection-banner', role: 'status', hidden: true },
    h('span', { 'data-testid': 'connection-text' }),
    h(
      'button',
      { type: 'button', 'data-testid': 'reconnect-now', onclick: () => void chat.link.reconnectNow() },
      'Reconnect now',
    ),
  );
  const renderBanner = () => {
    const state = chat.linkState;
    banner.hidden = state === 'connected' || state === 'stopped';
    banner.dataset.state = state;
    banner.querySelector('span')!.textContent =
      state === 'connecting' ? 'Connecting…' : 'Connection lost. Reconnecting…';
  };
  chat.on('link', renderBanner);
  renderBanner();

  const query = h('input', {
    type: 'search',
    'aria-label': 'Search messages',
    placeholder: 'Search messages',
    'data-testid': 'search-input',
  });
  const search = h('form', { role: 'search', class: 'search' }, query);
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    if (query.value.trim()) searchDialog(chat, query.value.trim());
  });
  const header = h(
    'header',
    { class: 'top' },
    h('p', { class: 'brand' }, 'Switchboard'),
    chat.me.isGuest ? null : search,
    h(
      'div',
      { class: 'me' },
      meBadge(chat, () => signOut()),
      adminLink(chat),
      themeToggle(chat.me.id),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'logout',
          onclick: () => (chat.me.isGuest ? void guestSignOut(signOut) : signOut()),
        },
        'Sign out',
      ),
    ),
  );
  const main = h('main', { id: 'main', class: 'content' });
  const layout = h('div', { class: 'layout' });
  root.replaceChildren(h('a', { href: '#main', class: 'skip' }, 'Skip to content'), header, banner, layout);
  document.title = PAGE_TITLE;

  if (chat.me.isGuest) {
    layout.classList.add('customer');
    layout.append(main);
    renderCustomer(chat, main);
    return;
  }

  let dispose = () => {};
  let showingQueue = false;
  // The admin view (#/admin, admins only) stays while its address does.
  let showingAdmin = isAdmin(chat) && isAdminRoute();
  let adminShown = false;
  const followHash = () => {
    // A shell replaced by a sign-out stops listening.
    if (!layout.isConnected) {
      window.removeEventListener('hashchange', followHash);
      return;
    }
    const wanted = isAdmin(chat) && isAdminRoute();
    if (wanted === showingAdmin) return;
    showingAdmin = wanted;
    if (wanted) showingQueue = false;
    show();
  };
  window.addEventListener('hashchange', followHash);
  /** Leaves the admin view (the address leaves it too, without a history step of its own). */
  const leaveAdmin = () => {
    showingAdmin = false;
    if (isAdminRoute()) history.replaceState(null, '', '#/');
  };
  const openQueue = () => {
    leaveAdmin();
    showingQueue = true;
    void chat.open(undefined);
    show();
  };
  const notifier = notifierOf(chat, PAGE_TITLE);
  notifier.openQueue = openQueue;
  const notice = createSupportNotice(chat, openQueue);
  const show = () => {
    if (showingAdmin && adminShown) return;
    dispose();
    adminShown = false;
    chat.viewingQueue = showingQueue;
    if (showingQueue) chat.seenQueue();
    layout.classList.toggle('has-room', Boolean(chat.current) || showingQueue || showingAdmin);
    if (showingAdmin) {
      const view = createAdminView(chat);
      main.replaceChildren(
        h(
          'button',
          {
            type: 'button',
            class: 'back',
            'aria-label': 'Back to conversations',
            onclick: () => {
              location.hash = '#/';
            },
          },
          '←',
        ),
        view.element,
      );
      adminShown = true;
      dispose = view.dispose;
    } else if (chat.current && !showingQueue) {
      const view = createRoomView(chat, chat.current, {
        members: (id) => membersDialog(chat, id),
        invite: (id) => inviteDialog(chat, id),
        back: () => void chat.open(undefined),
      });
      main.replaceChildren(view.element);
      dispose = view.dispose;
    } else if (showingQueue) {
      const view = createQueueView(chat);
      main.replaceChildren(
        h(
          'button',
          {
            type: 'button',
            class: 'back',
            'aria-label': 'Back to conversations',
            onclick: () => {
              showingQueue = false;
              show();
            },
          },
          '←',
        ),
        view.element,
      );
      dispose = view.dispose;
    } else {
      main.replaceChildren(
        h(
          'div',
          { class: 'welcome' },
          h('h1', {}, `Welcome, ${chat.me.displayName}`),
          h('p', {}, 'Choose a conversation, create a room, or find people to talk to.'),
        ),
      );
      dispose = () => {};
    }
  };
  let shown: string | undefined;
  chat.on('rooms', () => {
    if (chat.current !== shown) {
      shown = chat.current;
      if (chat.current) {
        showingQueue = false;
        showingAdmin = false;
      }
      show();
    }
  });
  const sidebar = createSidebar(chat, {
    newRoom: () => createRoomDialog(chat),
    browseRooms: () => browseRoomsDialog(chat),
    findPeople: () => findPeopleDialog(chat),
    showQueue: () => {
      leaveAdmin();
      showingQueue = true;
      void chat.open(undefined);
      show();
    },
    openRoom: (id) => {
      showingQueue = false;
      leaveAdmin();
      void chat
        .open(id)
        .then(() => document.querySelector<HTMLElement>('[data-testid="message-input"]')?.focus());
    },
  });
  layout.append(sidebar, main);
  if (chat.isAgent) banner.after(notice);
  show();
}

/**
 * The agent's notice of a new support request that arrived while they were elsewhere, with the
 * count in the page's title, until they look at the queue (or dismiss it).
 */
function createSupportNotice(chat: Chat, openQueue: () => void): HTMLElement {
  const text = h('span', { 'data-testid': 'support-notice-text' });
  const notice = h(
    'div',
    { class: 'support-notice', 'data-testid': 'support-notice', role: 'status', hidden: true },
    text,
    h(
      'button',
      { type: 'button', class: 'primary', 'data-testid': 'support-notice-open', onclick: openQueue },
      'Open the queue',
    ),
    h(
      'button',
      { type: 'button', 'data-testid': 'support-notice-dismiss', onclick: () => chat.seenQueue() },
      'Dismiss',
    ),
  );
  const render = () => {
    const fresh = [...chat.newRequests.values()];
    notice.hidden = fresh.length === 0;
    const first = fresh[0];
    text.textContent =
      fresh.length === 1 && first
        ? `New support request from ${customerName(chat, first)}: "${first.subject}"`
        : `${fresh.length} new support requests are waiting.`;
    // The count of new requests joins the unread count (notifications.ts).
    notifierOf(chat, PAGE_TITLE).renderTitle();
  };
  chat.on('support', render);
  render();
  return notice;
}
