/**
 * A thread in a side panel (the whole screen on a phone): its first message (or "message
 * deleted"), its replies and a composer that replies in it. Replies come from `getThread` when
 * opened and then from the room's timeline (the timeline store receives every reply as a message of
 * the room, live and on catch-up), so the panel follows the room without fetching again. Replies
 * seen in the panel move the reader's marker in the thread.
 * @module
 */
import type { Message } from '@switchboard/chat-contract';
import { type Chat, errorText } from '../chat.ts';
import { formatTime, fullTime, h, replaceChildren } from '../dom.ts';
import { isArchived } from '../room-extras.ts';
import { messageBody } from './markdown.ts';
import { mentionContext } from './message.ts';
import { reactionsRow } from './reactions.ts';

/** Opens the thread of `parentId` in `roomId`; returns the panel and its disposal. */
export function createThreadPanel(
  chat: Chat,
  roomId: string,
  parentId: string,
  close: () => void,
): { element: HTMLElement; dispose(): void } {
  let parent: Message | undefined = chat.timeline(roomId).get(parentId);
  const fetched = new Map<string, Message>();
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('ol', { class: 'thread-replies', 'aria-label': 'Replies' });
  const head = h('div', { class: 'thread-parent' });
  const input = h('textarea', {
    'aria-label': 'Reply in thread',
    placeholder: 'Reply…',
    'data-testid': 'thread-input',
    dir: 'auto',
    rows: 1,
    maxlength: 4000,
  });
  const composer = h(
    'form',
    { class: 'composer', 'aria-label': 'Reply in this thread' },
    input,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'thread-send' }, 'Reply'),
  );
  input.addEventListener('keydown', (event) => {
    if (event.isComposing) return;
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === 'Escape') close();
  });
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    void chat.send(roomId, text, [], parentId);
  });
  const element = h(
    'aside',
    { class: 'thread-panel', 'data-testid': 'thread-panel', 'aria-labelledby': 'thread-title' },
    h(
      'div',
      { class: 'thread-head' },
      h('h3', { id: 'thread-title' }, 'Thread'),
      h('button', { type: 'button', 'data-testid': 'thread-close', onclick: close }, 'Close'),
    ),
    head,
    list,
    error,
    composer,
  );

  const item = (m: Message, tag: 'li' | 'div' = 'li') =>
    h(
      tag,
      {
        class: 'message-item',
        'data-testid': tag === 'li' ? 'thread-reply' : 'thread-parent',
        'data-message-id': m.id,
        'data-seq': m.seq,
      },
      h(
        'div',
        { class: 'meta' },
        h(
          'span',
          { class: 'sender', dir: 'auto' },
          m.senderId === chat.me.id ? 'You' : chat.nameOf(m.senderId),
        ),
        h('time', { datetime: m.sentAt, title: fullTime(m.sentAt) }, formatTime(m.sentAt)),
      ),
      m.deleted
        ? h('p', { class: 'text deleted' }, 'Message deleted')
        : h(
            'div',
            { class: 'text', 'data-testid': 'message-text', dir: 'auto' },
            messageBody(m.text, mentionContext(chat, roomId)),
          ),
      reactionsRow(chat, m, (e) => error.replaceChildren(errorText(e)), 'thread'),
    );

  const render = () => {
    // An archived room is read-only: no replies.
    composer.style.display = isArchived(chat, roomId) ? 'none' : '';
    const timeline = chat.timeline(roomId);
    parent = timeline.get(parentId) ?? parent;
    const replies = new Map(fetched);
    for (const m of timeline.messages()) if (m.parentId === parentId) replies.set(m.id, m);
    const sorted = [...replies.values()].sort((a, b) => a.seq - b.seq);
    replaceChildren(head, [parent ? item(parent, 'div') : h('p', { class: 'hint' }, 'Loading…')]);
    const pending = timeline.pending().filter((p) => p.parentId === parentId);
    replaceChildren(list, [
      ...sorted.map((m) => item(m)),
      ...pending.map((p) =>
        h(
          'li',
          { class: 'message-item own pending', 'data-testid': 'thread-reply', 'data-status': p.status },
          h('p', { class: 'text', dir: 'auto' }, p.text),
        ),
      ),
    ]);
    const newest = sorted[sorted.length - 1]?.seq ?? 0;
    if (newest > 0 && document.visibilityState === 'visible') void chat.markThreadRead(parentId, newest);
  };
  const offs = [chat.on('timeline', render), chat.on('rooms', render)];
  render();
  chat.getThread(parentId).then(
    (page) => {
      parent = page.parent;
      for (const m of page.replies) fetched.set(m.id, m);
      render();
    },
    (e) => error.replaceChildren(errorText(e)),
  );
  queueMicrotask(() => input.focus());
  return {
    element,
    dispose: () => {
      for (const off of offs) off();
    },
  };
}
