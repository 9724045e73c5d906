/**
 * `@username` completion in a composer: typing `@` and the start of a name lists the room's
 * members whose username or display name starts with it; Up and Down choose, Enter or Tab puts
 * `@username ` in the text, Escape closes. The text box keeps the focus (the list is its
 * `aria-activedescendant`).
 * @module
 */
import type { User } from '@switchboard/chat-contract';
import type { Chat } from '../chat.ts';
import { h } from '../dom.ts';

const TOKEN = /(^|\s)@([a-zA-Z0-9_.-]{0,32})$/;
const MAX_SHOWN = 8;

let lists = 0;

/** Adds completion to `input`; returns the list element to place under it. */
export function mentionCompletion(chat: Chat, roomId: string, input: HTMLTextAreaElement): HTMLElement {
  const id = `mention-list-${++lists}`;
  const list = h('ul', {
    id,
    class: 'mention-list',
    role: 'listbox',
    'aria-label': 'People to mention',
    'data-testid': 'mention-list',
    hidden: true,
  });
  input.setAttribute('aria-controls', id);
  input.setAttribute('aria-autocomplete', 'list');
  let found: User[] = [];
  let active = 0;
  let start = -1;

  const close = () => {
    found = [];
    list.hidden = true;
    list.replaceChildren();
    input.removeAttribute('aria-activedescendant');
  };
  const pick = (user: User) => {
    const caret = input.selectionStart ?? input.value.length;
    const text = `@${user.username} `;
    input.value = input.value.slice(0, start) + text + input.value.slice(caret);
    const at = start + text.length;
    input.setSelectionRange(at, at);
    close();
    input.focus();
  };
  const render = () => {
    list.hidden = found.length === 0;
    list.replaceChildren(
      ...found.map((user, i) =>
        h(
          'li',
          {
            id: `${id}-${i}`,
            role: 'option',
            class: i === active ? 'active' : '',
            'aria-selected': String(i === active),
            'data-testid': 'mention-option',
            onmousedown: (event) => {
              event.preventDefault();
              pick(user);
            },
          },
          h('span', { class: 'sender', dir: 'auto' }, user.displayName),
          ` @${user.username}`,
        ),
      ),
    );
    if (found.length > 0) input.setAttribute('aria-activedescendant', `${id}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  };
  const update = () => {
    const caret = input.selectionStart ?? input.value.length;
    const match = TOKEN.exec(input.value.slice(0, caret));
    if (!match) return close();
    const prefix = match[2]!.toLowerCase();
    start = caret - prefix.length - 1;
    found = (chat.members.get(roomId) ?? [])
      .filter((uid) => uid !== chat.me.id)
      .map((uid) => chat.users.get(uid))
      .filter((u): u is User => u !== undefined && !u.isGuest)
      .filter(
        (u) => u.username.toLowerCase().startsWith(prefix) || u.displayName.toLowerCase().startsWith(prefix),
      )
      .slice(0, MAX_SHOWN);
    active = 0;
    render();
  };
  input.addEventListener('input', update);
  input.addEventListener('blur', () => setTimeout(close, 0));
  // Before the composer's own keys (Enter sends): a capturing listener runs first on the target.
  input.addEventListener(
    'keydown',
    (event) => {
      if (found.length === 0 || event.isComposing) return;
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        active = (active + (event.key === 'ArrowDown' ? 1 : found.length - 1)) % found.length;
        render();
      } else if (event.key === 'Enter' || event.key === 'Tab') {
        pick(found[active]!);
      } else if (event.key === 'Escape') {
        close();
      } else return;
      event.preventDefault();
      event.stopImmediatePropagation();
    },
    true,
  );
  return list;
}
