/**
 * An in-page confirmation (never the browser's `confirm()`): a modal dialog that says what will
 * happen, with `confirm-ok` and `confirm-cancel`. Escape, the close button and "Cancel" answer no.
 * @module
 */
import { type Child, h } from '../dom.ts';
import { openDialog } from './dialog.ts';

/** What a confirmation asks. */
export interface ConfirmOptions {
  /** The dialog's title, a question ("Delete this message?"). */
  readonly title: string;
  /** What will happen, in plain words. */
  readonly text: string;
  /** The label of the button that goes ahead ("Delete"). */
  readonly ok: string;
  /** The label of the button that does nothing; "Cancel" by default. */
  readonly cancel?: string;
  /** Whether going ahead destroys something (the button is shown as such). */
  readonly danger?: boolean;
  /** More content between the text and the buttons (a checkbox, say). */
  readonly extra?: Child;
}

/** Asks; resolves true when the person chose `ok`, false for anything else. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const ok = h(
      'button',
      {
        type: 'button',
        class: options.danger ? 'danger' : 'primary',
        'data-testid': 'confirm-ok',
        onclick: () => {
          answer = true;
          dialog.close();
        },
      },
      options.ok,
    );
    const cancel = h(
      'button',
      { type: 'button', 'data-testid': 'confirm-cancel', onclick: () => dialog.close() },
      options.cancel ?? 'Cancel',
    );
    const textId = `confirm-${Math.random().toString(36).slice(2)}`;
    const dialog = openDialog(
      options.title,
      'confirm-dialog',
      h('p', { class: 'confirm-text', id: textId }, options.text),
      options.extra ?? null,
      h('div', { class: 'confirm-actions' }, cancel, ok),
    );
    dialog.element.setAttribute('role', 'alertdialog');
    dialog.element.setAttribute('aria-describedby', textId);
    dialog.element.addEventListener('close', () => resolve(answer));
    // The safe answer has the focus: Enter right away does not destroy anything.
    cancel.focus();
  });
}
