/**
 * The dark theme in Chromium: it follows `prefers-color-scheme` until the user toggles it
 * (`theme-toggle`), the choice is kept across a reload for that user, focus rings are visible in
 * both themes, and the accessibility scan (contrast included) passes in both, on the conversation
 * with a message and a file card and on the notification settings.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import { axeViolations, browserSuite, createRoom, signUp, waitConnected, waitForTexts } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;
const LIGHT_BG = 'rgb(255, 255, 255)';
const DARK_BG = 'rgb(21, 24, 28)';

function background(page: Page): Promise<string> {
  return page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
}

/** The focused element's outline after a Tab from the composer (the attach button). */
async function focusRing(page: Page): Promise<{ style: string; width: string; color: string }> {
  await page.getByTestId('message-input').focus();
  await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const style = getComputedStyle(document.activeElement!);
    return { style: style.outlineStyle, width: style.outlineWidth, color: style.outlineColor };
  });
}

/** Scans the conversation and the notification settings. */
async function scanViews(page: Page): Promise<void> {
  assert.deepEqual(await axeViolations(page), []);
  await page.getByTestId('notification-settings-open').click();
  await page.getByTestId('notification-settings').waitFor();
  assert.deepEqual(await axeViolations(page), []);
  await page.keyboard.press('Escape');
  await page.getByTestId('notification-settings').waitFor({ state: 'detached' });
}

describe('chat-web: themes', () => {
  const suite = browserSuite();

  test('light by default, dark by the toggle (kept after a reload), dark by the system; focus rings and the scan in both', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const { page } = await suite.page();
    await page.emulateMedia({ colorScheme: 'light' });
    await signUp(page, suite.server.url, 'Lena');
    await createRoom(page, `Themes ${process.pid}`);
    await page.getByTestId('message-input').fill('hello in both themes');
    await page.getByTestId('message-send').click();
    await waitForTexts(page, ['hello in both themes']);
    await page
      .getByTestId('attach-input')
      .setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('notes') }]);
    await page.locator('[data-testid="upload"]', { hasText: 'notes.txt' }).waitFor();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="upload"] progress').length === 0,
    );
    await page.getByTestId('message-send').click();
    await page.getByTestId('attachment').waitFor();

    const toggle = page.getByTestId('theme-toggle');
    assert.equal(await background(page), LIGHT_BG);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    assert.deepEqual(await focusRing(page), { style: 'solid', width: '3px', color: 'rgb(194, 94, 0)' });
    await scanViews(page);

    await toggle.click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await background(page), DARK_BG);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    assert.deepEqual(await focusRing(page), { style: 'solid', width: '3px', color: 'rgb(255, 183, 77)' });
    await scanViews(page);

    // Kept for this user across a reload.
    await page.reload();
    await waitConnected(page);
    assert.equal(await background(page), DARK_BG);

    // Another user in a browser that prefers dark: dark without choosing; the toggle picks light.
    const other = await suite.page();
    await other.page.emulateMedia({ colorScheme: 'dark' });
    await signUp(other.page, suite.server.url, 'Dario');
    assert.equal(await background(other.page), DARK_BG);
    assert.equal(await other.page.getByTestId('theme-toggle').getAttribute('aria-pressed'), 'true');
    assert.deepEqual(await axeViolations(other.page), []);
    await other.page.getByTestId('theme-toggle').click();
    assert.equal(await background(other.page), LIGHT_BG);
    assert.deepEqual(await axeViolations(other.page), []);
  });
});
