/**
 * One message in the list: sender, time, text (always as text, its direction found per message),
 * edited and deleted marks, reactions, and the actions (one toolbar: react, edit, delete) that show
 * on hover, focus or a tap without moving anything; or a send not confirmed yet, in plain words.
 * @module
 */

import type { Message } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { formatTime, fullTime, h } from '../dom.ts';
import { isArchived } from '../room-extras.ts';
import type { PendingMessage } from '../timeline.ts';
import { attachmentList } from './attachments.ts';
import { confirmDialog } from './confirm.ts';
import './messaging.css';
import { avatar } from './avatar.ts';
import { type MentionContext, messageBody } from './markdown.ts';
import { nameButton } from './profile-card.ts';
import { reactionAddButton, reactionsRow } from './reactions.ts';
import { replyQuote, threadOpen } from './replies.ts';
import { rovingToolbar } from './toolbar.ts';

/** The quick reactions offered on every message. */
export const QUICK_REACTIONS = ['👍', '❤️', '😄'];

/** The message list's editing state, kept across re-renders. */
export interface EditState {
  messageId: string | undefined;
  draft: string;
  /** The message whose actions a tap showed (touch screens), if any. */
  actionsFor?: string | undefined;
  /** Called when an edit ends (saved or cancelled): the composer takes the focus back. */
  done?: () => void;
  /** Starts a reply to a message (the room's composer). */
  reply?: (message: Message) => void;
  /** Opens a thread by its first message. */
  thread?: (parentId: string) => void;
  /** Shows a message of the room (a reply's quote). */
  jump?: (messageId: string) => void;
}

/** Mentions as the reader sees them in a room: its members' usernames, the reader's own apart. */
export function mentionContext(chat: Chat, roomId: string): MentionContext {
  const names = new Set(
    (chat.members.get(roomId) ?? []).map((id) => chat.users.get(id)?.username.toLowerCase()),
  );
  return { me: chat.me.username.toLowerCase(), isMember: (name) => names.has(name) };
}

/** Starts editing a message. */
export function startEdit(edit: EditState, message: Message): void {
  edit.messageId = message.id;
  edit.draft = message.text;
}

function editForm(
  chat: Chat,
  message: Message,
  edit: EditState,
  rerender: () => void,
  fail: (e: unknown) => void,
) {
  const hintId = `edit-hint-${message.id}`;
  const input = h('textarea', {
    'aria-label': 'Edit message',
    'aria-describedby': hintId,
    'data-testid': 'message-edit-input',
    dir: 'auto',
    rows: 2,
    'data-key': `edit-${message.id}`,
  });
  input.value = edit.draft;
  const finish = () => {
    edit.messageId = undefined;
    rerender();
    edit.done?.();
  };
  input.addEventListener('input', () => {
    edit.draft = input.value;
  });
  const form = h(
    'form',
    { class: 'edit-form' },
    input,
    h('button', { type: 'submit', 'data-testid': 'message-edit-save' }, 'Save'),
    h('button', { type: 'button', 'data-testid': 'message-edit-cancel', onclick: finish }, 'Cancel'),
    h('p', { class: 'hint', id: hintId }, 'Enter saves, Shift+Enter adds a line, Escape cancels.'),
  );
  input.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      finish();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = edit.draft.trim();
    if (!text) return;
    if (text === message.text) {
      finish();
      return;
    }
    chat.edit(message.id, text).then(finish, fail);
  });
  queueMicrotask(() => {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  });
  return form;
}

/** The message's actions: one tab stop, arrow keys inside. */
function actionsToolbar(
  chat: Chat,
  message: Message,
  edit: EditState,
  rerender: () => void,
  fail: (e: unknown) => void,
): HTMLElement {
  const own = message.senderId === chat.me.id;
  const remove = () =>
    void confirmDialog({
      title: 'Delete this message?',
      text: 'It will be removed for everyone in this conversation. This cannot be undone.',
      ok: 'Delete',
      danger: true,
    }).then((yes) => (yes ? chat.remove(message.id).catch(fail) : undefined));
  return rovingToolbar(
    h(
      'div',
      { class: 'actions', 'aria-label': 'Message actions' },
      ...QUICK_REACTIONS.map((emoji) =>
        h(
          'button',
          {
            type: 'button',
            'aria-label': `React with ${emoji}`,
            'data-key': `react-${message.id}-${emoji}`,
            onclick: () => chat.react(message.id, emoji).catch(fail),
          },
          emoji,
        ),
      ),
      reactionAddButton(chat, message, fail),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'message-reply',
          'data-key': `reply-${message.id}`,
          onclick: () => edit.reply?.(message),
        },
        'Reply',
      ),
      own
        ? h(
            'button',
            {
              type: 'button',
              'data-testid': 'message-edit',
              'data-key': `editbtn-${message.id}`,
              onclick: () => {
                startEdit(edit, message);
                rerender();
              },
            },
            'Edit',
          )
        : null,
      own || chat.isAgent
        ? h(
            'button',
            {
              type: 'button',
              'data-testid': 'message-delete',
              'data-key': `delete-${message.id}`,
              onclick: remove,
            },
            'Delete',
          )
        : null,
    ),
  );
}

/** Renders a stored message. */
export function messageItem(
  chat: Chat,
  message: Message,
  edit: EditState,
  rerender: () => void,
): HTMLElement {
  const own = message.senderId === chat.me.id;
  const fail = (e: unknown) => alertLine.replaceChildren(errorText(e));
  const alertLine = h('p', { class: 'form-error', role: 'alert' });
  const body = message.deleted
    ? h('p', { class: 'text deleted' }, 'This message was deleted.')
    : edit.messageId === message.id
      ? editForm(chat, message, edit, rerender, fail)
      : h(
          'div',
          { class: 'text', 'data-testid': 'message-text', dir: 'auto' },
          messageBody(message.text, mentionContext(chat, message.roomId)),
        );
  return h(
    'li',
    {
      class: `message-item${own ? ' own' : ''}${edit.actionsFor === message.id ? ' show-actions' : ''}`,
      'data-testid': 'message-item',
      tabindex: -1,
      'data-key': `message-${message.id}`,
      'data-seq': message.seq,
      'data-message-id': message.id,
      'data-client-message-id': message.clientMessageId,
    },
    h(
      'div',
      { class: 'meta' },
      avatar(chat, message.senderId, 's'),
      nameButton(chat, message.senderId, own ? 'You' : chat.nameOf(message.senderId), {
        className: 'sender',
        fixed: own,
        tabStop: false,
      }),
      h(
        'time',
        { datetime: message.sentAt, title: fullTime(message.sentAt) },
        h('span', { class: 'time-short' }, formatTime(message.sentAt)),
        h('span', { class: 'time-full', 'aria-hidden': 'true' }, fullTime(message.sentAt)),
      ),
      message.editedAt && !message.deleted
        ? h('span', { class: 'edited', 'data-testid': 'message-edited' }, '(edited)')
        : null,
      // An archived room is read-only: no actions.
      message.deleted || isArchived(chat, message.roomId)
        ? null
        : actionsToolbar(chat, message, edit, rerender, fail),
    ),
    replyQuote(chat, message, (id) => edit.jump?.(id)),
    body,
    attachmentList(chat, message),
    reactionsRow(chat, message, fail),
    threadOpen(chat, message, (id) => edit.thread?.(id)),
    alertLine,
  );
}

/** The words a send that is not confirmed shows, by its state. */
export function pendingWords(pending: PendingMessage): string {
  if (pending.status === 'sending') return 'Sending…';
  if (pending.status === 'waiting') return 'Not sent yet: waiting for the connection';
  return `Not sent: ${pending.error ?? 'the server refused it.'}`;
}

/** Renders a send that is on its way, waiting for the connection, or refused. */
export function pendingItem(chat: Chat, pending: PendingMessage): HTMLElement {
  const stuck = pending.status !== 'sending';
  return h(
    'li',
    {
      class: `message-item own pending${stuck ? ' failed' : ''}`,
      'data-testid': 'message-item',
      'data-client-message-id': pending.clientMessageId,
      'data-status': pending.status,
    },
    h(
      'div',
      { class: 'pending-body', 'data-testid': 'message-pending', 'data-status': pending.status },
      h('div', { class: 'meta' }, avatar(chat, chat.me.id, 's'), h('span', { class: 'sender' }, 'You')),
      h('p', { class: 'text', 'data-testid': 'message-text', dir: 'auto' }, pending.text),
      h(
        'p',
        { class: 'pending-state', role: 'status' },
        `${pendingWords(pending)} `,
        stuck
          ? h(
              'button',
              {
                type: 'button',
                'data-testid': 'message-retry',
                'data-key': `retry-${pending.clientMessageId}`,
                onclick: () => void chat.retry(pending.roomId, pending.clientMessageId),
              },
              'Retry',
            )
          : null,
      ),
    ),
  );
}
