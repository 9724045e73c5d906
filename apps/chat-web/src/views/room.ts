/**
 * A conversation: its header (members, invite, leave, copy its address), the message list (from
 * the timeline store) that loads older history when scrolled to the top, opens at the first unread
 * message or a linked one, and moves the read marker only over messages actually seen (in view
 * while the tab is visible); "Jump to newest" and "Jump to first unread"; who is typing; the
 * composer.
 * @module
 */
import type { Message } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { errorText } from '../chat.ts';
import { dayOf, h, replaceChildren } from '../dom.ts';
import { isArchived, loadThreadStates } from '../room-extras.ts';
import { roomAddress } from '../router.ts';
import { attachTray, dropTarget, wireFileDrops } from './attachments.ts';
import { confirmDialog } from './confirm.ts';
import { mentionCompletion } from './mentions.ts';
import { type EditState, messageItem, pendingItem, startEdit } from './message.ts';
import { notificationButton } from './notification-settings.ts';
import { firstLine } from './replies.ts';
import { followRoomSettings, roomSettingsButton, topicLine } from './room-settings.ts';
import { favouriteButton } from './sidebar.ts';
import { supportActions } from './support-actions.ts';
import { createThreadPanel } from './thread.ts';

/** Callbacks of the room view. */
export interface RoomActions {
  members(roomId: string): void;
  invite(roomId: string): void;
  back(): void;
}

const TYPING_EVERY_MS = 2_000;

/** Renders the room `roomId`; returns its element and a function that detaches its listeners. */
export function createRoomView(
  chat: Chat,
  roomId: string,
  actions: RoomActions,
  options: { header?: boolean; status?: HTMLElement } = {},
): { element: HTMLElement; dispose(): void } {
  const room = chat.rooms.get(roomId);
  const edit: EditState = { messageId: undefined, draft: '' };
  // Where the unread part began when the room was opened (no marker when nothing was unread).
  const readMarkerAt = room && room.unreadCount > 0 ? room.lastReadSeq : Number.POSITIVE_INFINITY;
  // Opened at a message (the first unread, a link): the list waits for it before counting as seen.
  let focusDone = !(chat.focusPending === roomId || chat.focus?.roomId === roomId);
  const copied = h('span', { class: 'copied', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const title = h('h2', { 'data-testid': 'room-title', id: 'room-title' });
  const favouriteSlot = h('span', { class: 'favourite-slot' });
  const archivedNote = h(
    'p',
    { class: 'archived-note', 'data-testid': 'archived-notice', role: 'status', hidden: true },
    'This room is archived: it is read-only.',
  );
  let wasArchived = isArchived(chat, roomId);
  followRoomSettings(chat);
  const topic = topicLine();
  const header = h(
    'div',
    { class: 'room-head' },
    h(
      'button',
      { type: 'button', class: 'back', 'aria-label': 'Back to conversations', onclick: actions.back },
      '←',
    ),
    h('div', { class: 'room-heading' }, title, topic.element),
    h(
      'div',
      { class: 'room-actions' },
      h(
        'button',
        { type: 'button', 'data-testid': 'room-members', onclick: () => actions.members(roomId) },
        'Members',
      ),
      room && !room.isDirect && room.kind === 'room'
        ? h(
            'button',
            { type: 'button', 'data-testid': 'room-invite', onclick: () => actions.invite(roomId) },
            'Invite',
          )
        : null,
      favouriteSlot,
      notificationButton(chat, roomId),
      roomSettingsButton(chat, roomId),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'room-link',
          'aria-label': 'Copy link to this conversation',
          onclick: () => void copyLink(),
        },
        'Copy link',
      ),
      copied,
      room && room.kind !== 'support'
        ? h(
            'button',
            {
              type: 'button',
              'data-testid': 'room-leave',
              onclick: () => void leave(),
            },
            'Leave',
          )
        : null,
    ),
  );
  const leave = async () => {
    const current = chat.rooms.get(roomId);
    const yes = await confirmDialog({
      title: `Leave ${current ? chat.titleOf(current) : 'this conversation'}?`,
      text: current?.isPrivate
        ? 'You will need a new invitation to come back.'
        : 'You can join it again from "Browse rooms".',
      ok: 'Leave',
    });
    if (yes) await chat.leaveRoom(roomId).catch((e) => error.replaceChildren(errorText(e)));
  };
  const support = room?.kind === 'support' && chat.isAgent ? supportActions(chat, roomId) : undefined;
  if (support) header.append(support.element);
  const older = h(
    'button',
    { type: 'button', class: 'link', 'data-testid': 'load-older', onclick: () => void loadOlder() },
    'Load older messages',
  );
  const copyLink = async () => {
    const address = roomAddress(roomId);
    try {
      await navigator.clipboard.writeText(address);
      copied.textContent = 'Link copied';
    } catch {
      copied.textContent = address;
    }
  };
  const items = h('ol', { class: 'messages' });
  const list = h(
    'div',
    {
      class: 'message-list',
      'data-testid': 'message-list',
      role: 'log',
      'aria-labelledby': 'room-title',
      tabindex: 0,
    },
    items,
  );
  const jumpUnread = h(
    'button',
    { type: 'button', class: 'jump', 'data-testid': 'jump-unread', hidden: true, onclick: () => toUnread() },
    '↑ Jump to first unread',
  );
  const jumpNewest = h(
    'button',
    { type: 'button', class: 'jump', 'data-testid': 'jump-newest', hidden: true, onclick: () => toNewest() },
    '↓ Jump to newest',
  );
  const listArea = h(
    'div',
    { class: 'list-area' },
    list,
    h('div', { class: 'jumps' }, jumpUnread, jumpNewest),
  );
  const typing = h('p', { class: 'typing', 'data-testid': 'typing-indicator', 'aria-live': 'polite' });
  const input = h('textarea', {
    'data-testid': 'message-input',
    'aria-label': 'Message',
    placeholder: 'Write a message…',
    dir: 'auto',
    rows: 1,
    maxlength: 4000,
  });
  const files = attachTray(chat, roomId);
  const replyBar = h('div', { class: 'reply-bar', hidden: true });
  let replyTo: Message | undefined;
  const setReply = (message: Message | undefined) => {
    replyTo = message;
    replyBar.hidden = !message;
    replyBar.replaceChildren(
      ...(message
        ? [
            h(
              'span',
              { 'data-testid': 'reply-target' },
              `Replying to ${message.senderId === chat.me.id ? 'yourself' : chat.nameOf(message.senderId)}: ${firstLine(message.text)}`,
            ),
            h(
              'button',
              { type: 'button', class: 'link', onclick: () => setReply(undefined) },
              'Cancel reply',
            ),
          ]
        : []),
    );
    if (message) input.focus();
  };
  const composer = h(
    'form',
    { class: 'composer', 'aria-label': 'Send a message' },
    replyBar,
    mentionCompletion(chat, roomId, input),
    input,
    files.picker,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'message-send' }, 'Send'),
  );
  let lastTyping = 0;
  input.addEventListener('input', () => {
    if (Date.now() - lastTyping > TYPING_EVERY_MS && input.value.trim()) {
      lastTyping = Date.now();
      chat.typing(roomId);
    }
  });
  input.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === 'Escape' && replyTo) {
      event.preventDefault();
      setReply(undefined);
    } else if (event.key === 'ArrowUp' && input.value === '' && !event.shiftKey && !event.altKey) {
      // Up in an empty composer edits one's own last message.
      const last = chat.lastOwnMessage(roomId);
      if (!last) return;
      event.preventDefault();
      startEdit(edit, last);
      renderTimeline();
    }
  });
  edit.done = () => input.focus();
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    const attached = files.ready();
    if ('wait' in attached) {
      error.replaceChildren(attached.wait);
      return;
    }
    if (!text && attached.ids.length === 0) return;
    input.value = '';
    files.clear();
    error.replaceChildren();
    lastTyping = 0;
    stickToBottom = true;
    const parentId = replyTo ? (replyTo.parentId ?? replyTo.id) : undefined;
    setReply(undefined);
    void chat.send(roomId, text, attached.ids, parentId);
  });
  wireFileDrops(input, files);
  edit.reply = setReply;
  // The thread open beside the list, if any.
  let thread: { element: HTMLElement; dispose(): void } | undefined;
  let threadOpener: HTMLElement | null = null;
  const closeThread = () => {
    thread?.dispose();
    thread?.element.remove();
    thread = undefined;
    element.classList.remove('with-thread');
    threadOpener?.focus();
  };
  edit.thread = (parentId) => {
    closeThread();
    threadOpener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    thread = createThreadPanel(chat, roomId, parentId, closeThread);
    element.append(thread.element);
    element.classList.add('with-thread');
  };
  edit.jump = (messageId) => void jumpTo(messageId);
  const jumpTo = async (messageId: string) => {
    await chat.store.open(roomId, { messageId }).catch((e) => error.replaceChildren(errorText(e)));
    const target = items.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(messageId)}"]`);
    if (!target) return;
    stickToBottom = false;
    for (const shown of Array.from(items.querySelectorAll('.highlight'))) shown.classList.remove('highlight');
    target.classList.add('highlight');
    target.scrollIntoView({ block: 'center' });
    target.focus({ preventScroll: true });
  };

  let stickToBottom = true;
  let loadingOlder = false;
  const loadOlder = async () => {
    if (loadingOlder) return;
    loadingOlder = true;
    const before = list.scrollHeight - list.scrollTop;
    try {
      await chat.loadOlder(roomId);
      list.scrollTop = list.scrollHeight - before;
    } catch (e) {
      error.replaceChildren(errorText(e));
    } finally {
      loadingOlder = false;
    }
  };
  const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  // Touch: a tap on a message shows its actions; a tap anywhere else hides them.
  const tapped = (event: MouseEvent) => {
    if ((event as PointerEvent).pointerType === 'mouse') return;
    const target = event.target instanceof Element ? event.target : null;
    const item = target?.closest<HTMLElement>('.message-item[data-message-id]');
    const onControl = target?.closest('button, textarea, input, select, a');
    const id = item && items.contains(item) ? item.dataset.messageId : undefined;
    const next = onControl && id ? edit.actionsFor : id && id !== edit.actionsFor ? id : undefined;
    if (next === edit.actionsFor) return;
    edit.actionsFor = next;
    for (const shown of Array.from(items.querySelectorAll('.show-actions')))
      shown.classList.remove('show-actions');
    if (next) item?.classList.add('show-actions');
  };
  document.addEventListener('click', tapped);
  list.addEventListener('scroll', () => {
    if (focusDone) stickToBottom = atBottom();
    if (focusDone && list.scrollTop < 40 && chat.timeline(roomId).hasOlder) void loadOlder();
    afterMove();
  });
  const toNewest = () => {
    stickToBottom = true;
    list.scrollTop = list.scrollHeight;
    afterMove();
  };
  const toUnread = () => {
    const marker = items.querySelector<HTMLElement>('.read-marker');
    if (!marker) return;
    stickToBottom = false;
    list.scrollTop += marker.getBoundingClientRect().top - list.getBoundingClientRect().top;
    afterMove();
  };
  /** Shows the jump buttons that apply. */
  const updateJumps = () => {
    const timeline = chat.timeline(roomId);
    jumpNewest.hidden = !timeline.loaded || atBottom();
    const marker = items.querySelector<HTMLElement>('.read-marker');
    jumpUnread.hidden = !marker || marker.getBoundingClientRect().bottom > list.getBoundingClientRect().top;
  };
  /** Moves the read marker to the newest message in view, while the tab is visible. */
  const noteSeen = () => {
    if (!focusDone || document.visibilityState !== 'visible' || !list.isConnected) return;
    const view = list.getBoundingClientRect();
    const shown = items.querySelectorAll<HTMLElement>('[data-testid="message-item"][data-seq]');
    for (let i = shown.length - 1; i >= 0; i--) {
      const box = shown[i]!.getBoundingClientRect();
      if (box.bottom <= view.top) return;
      if (box.top < view.bottom - 8) {
        void chat.markSeen(roomId, Number(shown[i]!.dataset.seq));
        return;
      }
    }
  };
  let moveFrame = 0;
  const afterMove = () => {
    cancelAnimationFrame(moveFrame);
    moveFrame = requestAnimationFrame(() => {
      updateJumps();
      noteSeen();
    });
  };
  /** Scrolls to where the room was opened: the linked message (highlighted) or the first unread. */
  const applyFocus = () => {
    const focus = chat.focus;
    if (focusDone || !focus || focus.roomId !== roomId) return;
    focusDone = true;
    stickToBottom = false;
    const target = items.querySelector<HTMLElement>(`[data-seq="${focus.seq}"]`);
    const marker = items.querySelector<HTMLElement>('.read-marker');
    if (focus.messageId && target) {
      target.classList.add('highlight');
      target.scrollIntoView({ block: 'center' });
      target.focus({ preventScroll: true });
    } else if (marker) {
      list.scrollTop += marker.getBoundingClientRect().top - list.getBoundingClientRect().top - 8;
    } else {
      stickToBottom = true;
      list.scrollTop = list.scrollHeight;
    }
    stickToBottom = atBottom();
  };
  const onVisible = () => afterMove();
  document.addEventListener('visibilitychange', onVisible);

  const renderTimeline = () => {
    const timeline = chat.timeline(roomId);
    const nodes: Node[] = [];
    if (timeline.loaded && timeline.hasOlder) nodes.push(h('li', { class: 'older' }, older));
    let markerShown = false;
    const highlighted = items.querySelector<HTMLElement>('.highlight')?.dataset.seq;
    let day = '';
    for (const message of timeline.messages()) {
      const thisDay = dayOf(message.sentAt);
      if (thisDay !== day) {
        day = thisDay;
        nodes.push(
          h('li', { class: 'date-separator', 'data-testid': 'date-separator' }, h('span', {}, thisDay)),
        );
      }
      if (!markerShown && message.seq > readMarkerAt && message.senderId !== chat.me.id) {
        markerShown = true;
        nodes.push(h('li', { class: 'read-marker', 'data-testid': 'read-marker' }, 'New messages'));
      }
      nodes.push(messageItem(chat, message, edit, renderTimeline));
    }
    for (const pending of timeline.pending()) nodes.push(pendingItem(chat, pending));
    if (timeline.loaded && nodes.length === 0)
      nodes.push(h('li', { class: 'empty' }, 'No messages yet. Say hello!'));
    const wasBottom = stickToBottom;
    replaceChildren(items, nodes);
    if (highlighted) items.querySelector(`[data-seq="${highlighted}"]`)?.classList.add('highlight');
    if (!focusDone) {
      if (chat.focus?.roomId === roomId) applyFocus();
      else if (chat.focusPending !== roomId) focusDone = true;
    } else if (wasBottom) list.scrollTop = list.scrollHeight;
    afterMove();
  };
  const renderTitle = () => {
    const current = chat.rooms.get(roomId);
    title.textContent = current ? chat.titleOf(current) : 'Conversation';
    topic.render(current);
    // An archived room is read-only: no composer, no message actions (the timeline re-renders).
    for (const control of Array.from(
      composer.querySelectorAll<HTMLTextAreaElement | HTMLButtonElement>('textarea, button'),
    ))
      control.disabled = current?.archived === true;
    // (`hidden` alone loses to the composer's display rule.)
    composer.style.display = current?.archived === true ? 'none' : '';
    archivedNote.hidden = current?.archived !== true;
    if (wasArchived !== (current?.archived === true)) {
      wasArchived = current?.archived === true;
      renderTimeline();
    }
    replaceChildren(favouriteSlot, [
      current && !chat.me.isGuest ? favouriteButton(chat, current, chat.titleOf(current)) : null,
    ]);
  };
  const renderTyping = () => {
    const names = chat
      .typingIn(roomId)
      .filter((id) => id !== chat.me.id)
      .map((id) => chat.nameOf(id));
    typing.textContent =
      names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  };
  const offs = [
    chat.on('timeline', renderTimeline),
    chat.on('rooms', renderTitle),
    chat.on('members', renderTitle),
    chat.on('typing', renderTyping),
  ];
  renderTimeline();
  renderTitle();
  void chat.loadThreadReads(roomId).catch(() => undefined);
  void loadThreadStates(chat, roomId).catch(() => undefined);
  const element = h(
    'section',
    { class: 'room', 'aria-labelledby': 'room-title' },
    options.header === false
      ? h('h2', { class: 'visually-hidden', id: 'room-title' }, 'Conversation')
      : header,
    options.status ?? null,
    listArea,
    typing,
    error,
    archivedNote,
    files.tray,
    composer,
  );
  dropTarget(element, files);
  if (options.header === false) title.remove();
  return {
    element,
    dispose: () => {
      thread?.dispose();
      document.removeEventListener('click', tapped);
      support?.dispose();
      for (const off of offs) off();
      document.removeEventListener('visibilitychange', onVisible);
      cancelAnimationFrame(moveFrame);
    },
  };
}
