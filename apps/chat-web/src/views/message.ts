/**
 * One message in the list: sender, time, text (always as text), edited and deleted marks,
 * reactions, and the author's edit and delete actions; or a send still on its way, or failed with
 * a retry.
 * @module
 */
import { type Chat, errorText } from '../chat.ts';
import { formatTime, h } from '../dom.ts';
import type { PendingMessage } from '../timeline.ts';
import type { Message } from '../types.ts';

/** The quick reactions offered on every message. */
export const QUICK_REACTIONS = ['👍', '❤️', '😄'];

/** The message list's editing state, kept across re-renders. */
export interface EditState {
  messageId: string | undefined;
  draft: string;
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
  const body = (() => {
    if (message.deleted) return h('p', { class: 'text deleted' }, 'This message was deleted.');
    if (edit.messageId === message.id) {
      const input = h('textarea', {
        'aria-label': 'Edit message',
        'data-testid': 'message-edit-input',
        rows: 2,
        'data-key': `edit-${message.id}`,
      });
      input.value = edit.draft;
      input.addEventListener('input', () => {
        edit.draft = input.value;
      });
      const form = h(
        'form',
        { class: 'edit-form' },
        input,
        h('button', { type: 'submit', 'data-testid': 'message-edit-save' }, 'Save'),
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              edit.messageId = undefined;
              rerender();
            },
          },
          'Cancel',
        ),
      );
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const text = edit.draft.trim();
        if (!text) return;
        chat.edit(message.id, text).then(() => {
          edit.messageId = undefined;
          rerender();
        }, fail);
      });
      queueMicrotask(() => input.focus());
      return form;
    }
    return h('p', { class: 'text', 'data-testid': 'message-text' }, message.text);
  })();
  const reactions = message.reactions.filter((r) => r.count > 0);
  return h(
    'li',
    {
      class: `message-item${own ? ' own' : ''}`,
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
      h('span', { class: 'sender' }, own ? 'You' : chat.nameOf(message.senderId)),
      h('time', { datetime: message.sentAt }, formatTime(message.sentAt)),
      message.editedAt && !message.deleted
        ? h('span', { class: 'edited', 'data-testid': 'message-edited' }, '(edited)')
        : null,
    ),
    body,
    reactions.length > 0
      ? h(
          'div',
          { class: 'reactions', 'data-testid': 'message-reactions' },
          ...reactions.map((r) =>
            h(
              'button',
              {
                type: 'button',
                class: 'reaction',
                'aria-pressed': String(r.userIds.includes(chat.me.id)),
                'aria-label': `${r.emoji} ${r.count}`,
                'data-key': `reaction-${message.id}-${r.emoji}`,
                onclick: () => chat.react(message.id, r.emoji).catch(fail),
              },
              `${r.emoji} ${r.count}`,
            ),
          ),
        )
      : null,
    message.deleted
      ? null
      : h(
          'div',
          { class: 'actions' },
          ...QUICK_REACTIONS.map((emoji) =>
            h(
              'button',
              {
                type: 'button',
                class: 'icon',
                'aria-label': `React with ${emoji}`,
                'data-key': `react-${message.id}-${emoji}`,
                onclick: () => chat.react(message.id, emoji).catch(fail),
              },
              emoji,
            ),
          ),
          own
            ? h(
                'button',
                {
                  type: 'button',
                  'data-testid': 'message-edit',
                  'data-key': `editbtn-${message.id}`,
                  onclick: () => {
                    edit.messageId = message.id;
                    edit.draft = message.text;
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
                  onclick: () => chat.remove(message.id).catch(fail),
                },
                'Delete',
              )
            : null,
        ),
    alertLine,
  );
}

/** Renders a send that is on its way or failed. */
export function pendingItem(chat: Chat, pending: PendingMessage): HTMLElement {
  const failed = pending.status === 'failed';
  return h(
    'li',
    {
      class: `message-item own pending${failed ? ' failed' : ''}`,
      'data-testid': 'message-item',
      'data-client-message-id': pending.clientMessageId,
      'data-status': pending.status,
    },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'sender' }, 'You'),
      h('span', {}, failed ? 'Not sent' : 'Sending…'),
    ),
    h('p', { class: 'text', 'data-testid': 'message-text' }, pending.text),
    failed
      ? h(
          'p',
          { class: 'form-error', role: 'alert' },
          `${pending.error ?? 'Not sent.'} `,
          h(
            'button',
            {
              type: 'button',
              'data-testid': 'message-retry',
              'data-key': `retry-${pending.clientMessageId}`,
              onclick: () => void chat.retry(pending.roomId, pending.clientMessageId),
            },
            'Retry',
          ),
        )
      : null,
  );
}
