/**
 * The theme: the system's (`prefers-color-scheme`) until the user picks light or dark with the
 * toggle (`theme-toggle`); the choice is kept in this browser per user and applied as
 * `<html data-theme>` (style.css holds both palettes).
 * @module
 */
import { h } from './dom.ts';

/** What the user chose; `system` follows `prefers-color-scheme`. */
export type ThemeChoice = 'system' | 'light' | 'dark';

/** The localStorage key of a user's theme. */
export function themeKey(userId: string): string {
  return `switchboard.theme.${userId}`;
}

/** The user's kept choice. */
export function loadTheme(userId: string): ThemeChoice {
  try {
    const value = localStorage.getItem(themeKey(userId));
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

/** Applies a choice to the page. */
export function applyTheme(choice: ThemeChoice): void {
  if (choice === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', choice);
}

/** Whether the page shows the dark theme now. */
export function isDark(): boolean {
  const chosen = document.documentElement.getAttribute('data-theme');
  if (chosen) return chosen === 'dark';
  return matchMedia('(prefers-color-scheme: dark)').matches;
}

/** The toggle between light and dark (pressed: dark), applying and keeping the user's choice. */
export function themeToggle(userId: string): HTMLButtonElement {
  applyTheme(loadTheme(userId));
  const button = h('button', { type: 'button', 'data-testid': 'theme-toggle' }, 'Dark theme');
  const render = () => button.setAttribute('aria-pressed', String(isDark()));
  button.addEventListener('click', () => {
    const choice: ThemeChoice = isDark() ? 'light' : 'dark';
    try {
      localStorage.setItem(themeKey(userId), choice);
    } catch {
      // Not kept: it holds for this page.
    }
    applyTheme(choice);
    render();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', render);
  render();
  return button;
}
