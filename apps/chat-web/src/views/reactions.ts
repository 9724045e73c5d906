/**
 * A message's reactions: one chip per emoji (pressed when the reader's own is among them; hovering
 * or focusing it shows who reacted), and the button that opens the emoji picker (loaded only when
 * first opened, so the emoji list stays out of the page's main bundle).
 * @module
 */
import type { Message, Reaction } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';
import { isArchived } from '../room-extras.ts';

/** Who reacted with `reaction`, as words ("You, Bob"). */
export function reactors(chat: Chat, reaction: Reaction): string {
  return reaction.userIds.map((id) => (id === chat.me.id ? 'You' : chat.nameOf(id))).join(', ');
}

/**
 * The chips of a message's reactions (null when it has none); `scope` keeps element ids unique
 * where one message shows twice (the list and the thread panel).
 */
export function reactionsRow(
  chat: Chat,
  message: Message,
  fail: (e: unknown) => void,
  scope = 'list',
): HTMLElement | null {
  const reactions = message.reactions.filter((r) => r.count > 0);
  if (reactions.length === 0) return null;
  return h(
    'div',
    { class: 'reactions', 'data-testid': 'message-reactions' },
    ...reactions.map((r, i) => {
      const who = reactors(chat, r);
      const whoId = `who-${scope}-${message.id}-${i}`;
      return h(
        'button',
        {
          type: 'button',
          class: 'reaction',
          'data-testid': 'reaction-chip',
          'aria-pressed': String(r.userIds.includes(chat.me.id)),
          'aria-describedby': whoId,
          title: who,
          'data-key': `reaction-${message.id}-${r.emoji}`,
          // An archived room is read-only: the chips only show who reacted.
          'aria-disabled': isArchived(chat, message.roomId) ? 'true' : undefined,
          onclick: () =>
            isArchived(chat, message.roomId) ? undefined : chat.react(message.id, r.emoji).catch(fail),
        },
        `${r.emoji} ${r.count}`,
        h('span', { class: 'who', id: whoId, 'data-testid': 'reaction-who' }, who),
      );
    }),
  );
}

/** The button that opens the emoji picker for a message. */
export function reactionAddButton(chat: Chat, message: Message, fail: (e: unknown) => void): HTMLElement {
  const button = h(
    'button',
    {
      type: 'button',
      'data-testid': 'reaction-add',
      'aria-label': 'Add a reaction',
      'aria-haspopup': 'dialog',
      'data-key': `react-add-${message.id}`,
      onclick: () => {
        void import('./emoji-picker.ts')
          .then(({ openEmojiPicker }) =>
            openEmojiPicker(button, (emoji) => chat.react(message.id, emoji).catch(fail)),
          )
          .catch(fail);
      },
    },
    '☺+',
  );
  return button;
}
