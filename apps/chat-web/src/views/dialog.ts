/**
 * A modal dialog (native `<dialog>`: focus stays inside, Escape closes it).
 * @module
 */
import { type Child, h } from '../dom.ts';

/** An open dialog. */
export interface OpenDialog {
  readonly element: HTMLDialogElement;
  /** Where the dialog's content goes. */
  readonly body: HTMLElement;
  /** Shows an error line in the dialog. */
  error(text: string): void;
  close(): void;
}

/** Opens a modal dialog with a title and content. */
export function openDialog(title: string, testid: string, ...content: Child[]): OpenDialog {
  const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const body = h('div', { class: 'dialog-body' }, ...content);
  const element = h(
    'dialog',
    { 'aria-labelledby': titleId, 'data-testid': testid },
    h(
      'div',
      { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => close() }, '✕'),
    ),
    body,
    error,
  );
  const close = () => {
    element.close();
    element.remove();
  };
  element.addEventListener('close', () => element.remove());
  document.body.appendChild(element);
  element.showModal();
  return {
    element,
    body,
    error: (text) => {
      error.textContent = text;
    },
    close,
  };
}
