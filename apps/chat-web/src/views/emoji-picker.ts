/**
 * The emoji picker: Unicode's emoji list (unicode-emoji-json) with a search by name, as a small
 * dialog beside the button that opened it. Loaded on first use (a chunk of its own). Arrow keys
 * move in the grid, Enter or a click picks, Escape or a click outside closes; the focus goes back to
 * the button.
 * @module
 */
import groups from 'unicode-emoji-json/data-by-group.json' with { type: 'json' };
import { h } from '../dom.ts';

interface EmojiEntry {
  readonly emoji: string;
  readonly name: string;
}

const ALL: EmojiEntry[] = (groups as { emojis: EmojiEntry[] }[]).flatMap((g) =>
  g.emojis.map((e) => ({ emoji: e.emoji, name: e.name })),
);

/** How many emoji the grid shows at once (search narrows the rest). */
const SHOWN = 160;

let open: { close(): void } | undefined;

/** Opens the picker beside `anchor`; `pick` gets the chosen emoji. */
export function openEmojiPicker(anchor: HTMLElement, pick: (emoji: string) => void): void {
  open?.close();
  const search = h('input', {
    type: 'search',
    'aria-label': 'Search emoji',
    placeholder: 'Search emoji',
    'data-testid': 'emoji-search',
  });
  const grid = h('div', { class: 'emoji-grid', role: 'group', 'aria-label': 'Emoji' });
  const dialog = h(
    'div',
    {
      class: 'emoji-picker',
      role: 'dialog',
      'aria-label': 'Choose an emoji',
      'data-testid': 'emoji-picker',
    },
    search,
    grid,
  );
  const render = () => {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const found = ALL.filter((e) => words.every((w) => e.name.includes(w))).slice(0, SHOWN);
    grid.replaceChildren(
      ...found.map((e) =>
        h(
          'button',
          {
            type: 'button',
            class: 'emoji',
            title: e.name,
            'aria-label': e.name,
            'data-emoji': e.emoji,
            onclick: () => {
              close();
              pick(e.emoji);
            },
          },
          e.emoji,
        ),
      ),
    );
    if (found.length === 0) grid.append(h('p', { class: 'hint' }, 'No emoji found.'));
  };
  const outside = (event: MouseEvent) => {
    if (!dialog.contains(event.target as Node) && event.target !== anchor) close();
  };
  const close = () => {
    dialog.remove();
    document.removeEventListener('mousedown', outside);
    open = undefined;
    if (anchor.isConnected) anchor.focus();
  };
  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      close();
      return;
    }
    const buttons = Array.from(grid.querySelectorAll<HTMLButtonElement>('button'));
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[event.key];
    if (step === undefined) return;
    if (at === -1 && event.key === 'ArrowDown') {
      event.preventDefault();
      buttons[0]?.focus();
    } else if (at !== -1) {
      event.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, at + step))]?.focus();
    }
  });
  search.addEventListener('input', render);
  render();
  document.body.append(dialog);
  // Beside the button, inside the window (set through the CSSOM: the CSP allows no style attribute).
  const box = anchor.getBoundingClientRect();
  const width = dialog.offsetWidth;
  const height = dialog.offsetHeight;
  dialog.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - width - 8))}px`;
  dialog.style.top = `${box.bottom + height + 8 < window.innerHeight ? box.bottom + 4 : Math.max(8, box.top - height - 4)}px`;
  document.addEventListener('mousedown', outside);
  open = { close };
  search.focus();
}
