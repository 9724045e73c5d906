/**
 * The composer and the messages in Chromium, as every chat has them: editing with the keyboard
 * (Up, Enter, Shift+Enter, Escape), each message's text direction, the actions as one toolbar (one
 * tab stop) that shows on hover, focus or a tap without moving anything, confirmations in the
 * page (never `confirm()`), and unique room names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import {
  answerConfirm,
  axeViolations,
  browserSuite,
  createRoom,
  readAttached,
  send,
  signUp,
  waitForSent,
  waitForTexts,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** The focused element: its test id, aria-label and the message it is in. */
function focused(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return {
      testid: el?.getAttribute('data-testid') ?? '',
      label: el?.getAttribute('aria-label') ?? '',
      role: el?.closest('[role="toolbar"]') ? 'toolbar' : '',
      message: el?.closest('[data-testid="message-item"]')?.getAttribute('data-message-id') ?? '',
    };
  });
}

/** Where every message sits in the list, and how tall the list's content is. */
function layout(page: Page) {
  return page.evaluate(() => {
    const list = document.querySelector('[data-testid="message-list"]')!;
    const items = Array.from(list.querySelectorAll('[data-testid="message-item"]'), (item) => {
      const box = item.getBoundingClientRect();
      return `${Math.round(box.top)}:${Math.round(box.height)}`;
    });
    return { items, scrollHeight: list.scrollHeight };
  });
}

describe('chat-web: composer and messages', () => {
  const suite = browserSuite();

  test('editing by keyboard, text direction, one tab stop per message, no layout change, in-page confirmations', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    await signUp(alice.page, suite.server.url, 'Alice');
    const room = `Compose ${process.pid}`;
    await createRoom(alice.page, room);
    const p = alice.page;
    const input = p.getByTestId('message-input');

    // Up in the empty composer edits one's own last message; Shift+Enter adds a line; Enter saves.
    await send(p, 'first line');
    await waitForTexts(p, ['first line']);
    await input.focus();
    await p.keyboard.press('ArrowUp');
    const editor = p.getByTestId('message-edit-input');
    await editor.waitFor();
    assert.equal(await editor.inputValue(), 'first line');
    await p.keyboard.press('Shift+Enter');
    await p.keyboard.type('second line');
    await p.keyboard.press('Enter');
    await waitForTexts(p, ['first line\nsecond line']);
    await p.getByTestId('message-edited').waitFor();
    assert.equal((await focused(p)).testid, 'message-input', 'the composer has the focus back');
    // Escape cancels: nothing changes.
    await p.keyboard.press('ArrowUp');
    await editor.waitFor();
    await p.keyboard.type(' and more');
    await p.keyboard.press('Escape');
    await editor.waitFor({ state: 'detached' });
    await waitForTexts(p, ['first line\nsecond line']);
    assert.equal((await focused(p)).testid, 'message-input');

    // Each message finds its own direction.
    const arabic = 'مرحبا، كيف حالك؟';
    await send(p, arabic);
    await send(p, 'third, in English');
    await waitForTexts(p, ['first line\nsecond line', arabic, 'third, in English']);
    await waitForSent(p);
    // Found and read in one go: the list may render again between two round trips (a locator's
    // evaluateAll finds, then reads), and a replaced element has no computed style.
    const directions = await p.evaluate(() =>
      Array.from(
        document.querySelectorAll('[data-testid="message-list"] [data-testid="message-text"]'),
        (e) => [e.getAttribute('dir'), getComputedStyle(e).direction],
      ),
    );
    assert.deepEqual(directions, [
      ['auto', 'ltr'],
      ['auto', 'rtl'],
      ['auto', 'ltr'],
    ]);

    // A message's actions are one tab stop: Shift+Tab from the composer goes message by message.
    const ids = await p
      .getByTestId('message-item')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-message-id') ?? ''));
    await input.focus();
    await p.keyboard.press('Shift+Tab');
    let at = await focused(p);
    assert.deepEqual([at.role, at.label, at.message], ['toolbar', 'React with 👍', ids[2]]);
    await p.keyboard.press('Shift+Tab');
    at = await focused(p);
    assert.deepEqual([at.role, at.label, at.message], ['toolbar', 'React with 👍', ids[1]]);
    // Arrow keys move inside the toolbar; Home and End go to its ends.
    await p.keyboard.press('ArrowRight');
    assert.deepEqual(await focused(p), {
      testid: '',
      label: 'React with ❤️',
      role: 'toolbar',
      message: ids[1],
    });
    await p.keyboard.press('End');
    assert.equal((await focused(p)).testid, 'message-delete');
    await p.keyboard.press('ArrowRight');
    assert.equal((await focused(p)).label, 'React with 👍', 'wraps around');
    await p.keyboard.press('End');
    // Tab leaves the toolbar for the next message's toolbar.
    await p.keyboard.press('Tab');
    at = await focused(p);
    assert.deepEqual([at.role, at.message], ['toolbar', ids[2]]);
    assert.deepEqual(await axeViolations(p), []);

    // Hovering or focusing a message moves nothing, and the last message's actions are not cut off.
    await p.mouse.move(0, 0);
    await input.focus();
    const before = await layout(p);
    await p.getByTestId('message-item').nth(1).hover();
    assert.deepEqual(await layout(p), before, 'hover');
    await p.getByTestId('message-item').last().getByRole('button', { name: 'React with 👍' }).focus();
    assert.deepEqual(await layout(p), before, 'focus');
    const listBox = (await p.getByTestId('message-list').boundingBox())!;
    const actionsBox = (await p.getByTestId('message-item').last().getByRole('toolbar').boundingBox())!;
    assert.ok(actionsBox.y + actionsBox.height <= listBox.y + listBox.height, 'the actions are in view');
    assert.equal(
      await readAttached(p.getByTestId('message-item').last().getByRole('toolbar'), (e) =>
        e.isConnected ? getComputedStyle(e).opacity : null,
      ),
      '1',
    );

    // Deleting asks first, in the page.
    const last = p.getByTestId('message-item').last();
    await last.hover();
    await last.getByTestId('message-delete').click();
    await p.getByTestId('confirm-dialog').waitFor();
    assert.deepEqual(await axeViolations(p), []);
    await answerConfirm(p, false);
    assert.equal(await last.getByText('This message was deleted.').count(), 0);
    await last.hover();
    await last.getByTestId('message-delete').click();
    await answerConfirm(p, true);
    await last.getByText('This message was deleted.').waitFor();

    // Room names are unique, ignoring case: a clear refusal in the dialog.
    await p.getByTestId('new-room').click();
    await p.getByTestId('new-room-name').fill(room.toUpperCase());
    await p.getByTestId('new-room-submit').click();
    await p
      .getByTestId('new-room-dialog')
      .getByRole('alert')
      .filter({ hasText: `A public room named "${room.toUpperCase()}" already exists` })
      .waitFor();
    await p.keyboard.press('Escape');

    // Leaving asks first.
    await p.getByTestId('room-leave').click();
    await answerConfirm(p, false);
    assert.equal(await p.getByTestId('room-item').filter({ hasText: room }).count(), 1);
    await p.getByTestId('room-leave').click();
    await answerConfirm(p, true);
    await p.getByTestId('room-item').filter({ hasText: room }).waitFor({ state: 'detached' });
    assert.deepEqual(alice.dialogs, [], 'no browser dialog');
  });

  test('on a touch screen a tap shows the actions and a tap elsewhere hides them', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const tess = await suite.page({ viewport: { width: 375, height: 667 }, hasTouch: true });
    await signUp(tess.page, suite.server.url, 'Tess');
    await createRoom(tess.page, `Taps ${process.pid}`);
    const p = tess.page;
    await send(p, 'tap me');
    await send(p, 'or me');
    await waitForTexts(p, ['tap me', 'or me']);
    const opacity = (n: number) =>
      readAttached(p.getByTestId('message-item').nth(n).getByRole('toolbar'), (e) =>
        e.isConnected ? getComputedStyle(e).opacity : null,
      );
    const before = await layout(p);
    assert.equal(await opacity(0), '0');
    await p.getByTestId('message-text').first().tap();
    assert.equal(await opacity(0), '1');
    assert.deepEqual(await layout(p), before, 'nothing moves');
    await p.getByTestId('message-item').first().getByRole('button', { name: 'React with 👍' }).tap();
    await p.getByTestId('message-reactions').filter({ hasText: '👍 1' }).waitFor();
    await p.getByTestId('room-title').tap();
    assert.equal(await opacity(0), '0');
    await p.getByTestId('message-text').last().tap();
    assert.deepEqual([await opacity(0), await opacity(1)], ['0', '1']);
  });
});
