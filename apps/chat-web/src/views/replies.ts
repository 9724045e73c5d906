/**
 * Replies in the room's list: the quote of the message a reply answers (sender and first line; a
 * button that jumps to it) and, under a thread's first message, its reply count that opens the
 * thread (marked when replies came after the reader's marker in it).
 * @module
 */
import type { Message } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { threadUnreadCount } from '../room-extras.ts';

/** Parents not held by the timeline, fetched once for their quote. */
const quoted = new Map<string, Message | 'loading' | 'missing'>();

/** The first line of a message's text, shortened. */
export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** The parent of a reply as far as known (held by the timeline or fetched once). */
function parentOf(chat: Chat, reply: Message): Message | undefined {
  const held = chat.timeline(reply.roomId).get(reply.parentId!);
  if (held) return held;
  const known = quoted.get(reply.parentId!);
  if (known === undefined) {
    quoted.set(reply.parentId!, 'loading');
    chat.getThread(reply.parentId!).then(
      (page) => {
        quoted.set(reply.parentId!, page.parent);
        chat.changed('timeline');
      },
      () => quoted.set(reply.parentId!, 'missing'),
    );
  }
  return typeof known === 'object' ? known : undefined;
}

/** The quote on a reply (null when the message is not one). */
export function replyQuote(
  chat: Chat,
  message: Message,
  jump: (parentId: string) => void,
): HTMLElement | null {
  if (!message.parentId) return null;
  const parent = parentOf(chat, message);
  const sender = parent ? (parent.senderId === chat.me.id ? 'You' : chat.nameOf(parent.senderId)) : '';
  const line = !parent ? 'Original message' : parent.deleted ? 'Message deleted' : firstLine(parent.text);
  return h(
    'button',
    {
      type: 'button',
      class: 'reply-quote',
      'data-testid': 'reply-quote',
      'data-key': `quote-${message.id}`,
      title: 'Show the original message',
      onclick: () => jump(message.parentId!),
    },
    h('span', { class: 'visually-hidden' }, 'In reply to '),
    sender ? h('span', { class: 'sender', dir: 'auto' }, sender) : null,
    h('span', { class: 'line', dir: 'auto' }, line),
  );
}

/** The reply count under a thread's first message that opens the thread (null without replies). */
export function threadOpen(
  chat: Chat,
  message: Message,
  open: (parentId: string) => void,
): HTMLElement | null {
  const count = message.replyCount ?? 0;
  if (count === 0) return null;
  // A thread the caller is in counts its unread replies (threadActivity, listThreadStates).
  const unreadCount = threadUnreadCount(chat, message.id);
  const unread = unreadCount > 0 || chat.threadUnread(message);
  return h(
    'button',
    {
      type: 'button',
      class: `thread-open${unread ? ' unread' : ''}`,
      'data-testid': 'thread-open',
      'data-unread': String(unread),
      'data-key': `thread-${message.id}`,
      onclick: () => open(message.id),
    },
    `${count} ${count === 1 ? 'reply' : 'replies'}`,
    unreadCount > 0
      ? h(
          'span',
          {
            class: 'badge thread-unread',
            'data-testid': 'thread-unread',
            'aria-label': `${unreadCount} unread ${unreadCount === 1 ? 'reply' : 'replies'}`,
          },
          String(unreadCount),
        )
      : unread
        ? h('span', { class: 'badge' }, ' · new')
        : null,
  );
}
