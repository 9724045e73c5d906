/**
 * Search in Chromium: every word a prefix ("thank" finds "thanks"), each result with its sender,
 * room and time and the match marked, and a result opens its room at that message.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, connectClient, requireService } from '@switchboard/testkit';
import { axeViolations, browserSuite, createRoom, send, signUp, waitForTexts } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: search', () => {
  const suite = browserSuite();

  test('search finds words by prefix, shows sender, room and time with the match marked, and opens the room at the message', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const ann = await suite.page();
    const ben = await suite.page();
    await signUp(ann.page, suite.server.url, 'Ann');
    await signUp(ben.page, suite.server.url, 'Ben');
    const room = `Reports ${process.pid}`;
    await createRoom(ann.page, room);
    await ben.page.getByTestId('browse-rooms').click();
    await ben.page
      .getByTestId('public-rooms')
      .locator('li', { hasText: room })
      .getByTestId('join-room')
      .click();
    await ben.page.getByTestId('room-title').filter({ hasText: room }).waitFor();
    await send(ann.page, 'Thanks for the quarterly report!');
    // Enough after it that it is out of view, sent as another device of Ann's would send them.
    const fillers = Array.from({ length: 30 }, (_, i) => `filler ${i}`);
    const token = await ann.page.evaluate(
      () => JSON.parse(localStorage.getItem('switchboard.session')!).token as string,
    );
    const roomId = await ann.page
      .getByTestId('room-item')
      .filter({ hasText: room })
      .getAttribute('data-room-id');
    const other = await connectClient(`${suite.server.url}/hubs/chat`, { accessTokenFactory: () => token });
    for (const [i, text] of fillers.entries())
      await other.invoke('sendMessage', { roomId, text, clientMessageId: `f-${i}` });
    await other.stop();
    // 31 messages rendered while another browser and the test's client share the machine: a loaded
    // CI box took over 30 s.
    await waitForTexts(ben.page, ['Thanks for the quarterly report!', ...fillers], 90_000);
    // Ben is elsewhere when he searches.
    await createRoom(ben.page, `Elsewhere ${process.pid}`);

    await ben.page.getByTestId('search-input').fill('thank quart');
    await ben.page.getByTestId('search-input').press('Enter');
    const result = ben.page.getByTestId('search-result').filter({ hasText: 'for the quarterly report' });
    await result.waitFor();
    assert.equal(await ben.page.getByTestId('search-result').count(), 1);
    await result.getByTestId('search-result-sender').filter({ hasText: 'Ann' }).waitFor();
    assert.equal(await result.getByTestId('search-result-room').textContent(), room);
    assert.match((await result.getByTestId('search-result-time').textContent()) ?? '', /\d/);
    assert.deepEqual(await result.locator('mark').allTextContents(), ['Thank', 'quart']);
    assert.deepEqual(await axeViolations(ben.page), []);
    const messageId = await result.getAttribute('data-message-id');
    await result.getByRole('button').click();
    await ben.page.getByTestId('room-title').filter({ hasText: room }).waitFor();
    const target = ben.page.locator(`[data-testid="message-item"][data-message-id="${messageId}"]`);
    await target.waitFor();
    await ben.page.waitForFunction((id) => {
      const item = document.querySelector(`[data-message-id="${id}"]`);
      const list = document.querySelector('[data-testid="message-list"]');
      if (!item || !list) return false;
      const a = item.getBoundingClientRect();
      const b = list.getBoundingClientRect();
      return a.top >= b.top && a.bottom <= b.bottom;
    }, messageId);
    // The address is the message's.
    assert.match(ben.page.url(), new RegExp(`#/rooms/[^/]+/messages/${messageId}$`));
  });
});
