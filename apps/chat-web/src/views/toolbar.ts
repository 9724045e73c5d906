/**
 * A toolbar with one tab stop (roving tabindex, as the ARIA toolbar pattern has it): Tab enters
 * and leaves it in one step; Left and Right (wrapping), Home and End move between its buttons.
 * @module
 */

/** Makes `toolbar`'s buttons one tab stop; the button last used keeps it. */
export function rovingToolbar(toolbar: HTMLElement): HTMLElement {
  const buttons = () => Array.from(toolbar.querySelectorAll<HTMLButtonElement>('button:not([disabled])'));
  const settle = (current: HTMLElement) => {
    for (const b of buttons()) b.tabIndex = b === current ? 0 : -1;
  };
  const first = buttons()[0];
  if (first) settle(first);
  toolbar.setAttribute('role', 'toolbar');
  toolbar.addEventListener('focusin', (event) => {
    if (event.target instanceof HTMLButtonElement) settle(event.target);
  });
  toolbar.addEventListener('keydown', (event) => {
    const all = buttons();
    const at = all.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const next =
      event.key === 'ArrowRight'
        ? all[(at + 1) % all.length]
        : event.key === 'ArrowLeft'
          ? all[(at - 1 + all.length) % all.length]
          : event.key === 'Home'
            ? all[0]
            : event.key === 'End'
              ? all[all.length - 1]
              : undefined;
    if (!next) return;
    event.preventDefault();
    next.focus();
  });
  return toolbar;
}
