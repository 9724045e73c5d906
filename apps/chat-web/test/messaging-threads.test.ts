/**
 * Replies, threads and reactions in Chromium: two people reply (a quote that jumps to the
 * original, mention completion) and follow a thread in its side panel (count, unread state, a
 * deleted parent keeping its thread); reactions through the emoji picker, with who reacted on
 * hover and focus; the accessibility scan on each new view.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import { axeViolations, browserSuite, createRoom, hubAs, send, signUp } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** The message item whose text contains `text`. */
const item = (page: Page, text: string) =>
  page
    .getByTestId('message-list')
    .getByTestId('message-item')
    .filter({ has: page.getByTestId('message-text').filter({ hasText: text }) });

/** Opens the room named `room` from the sidebar (joined by the hub elsewhere). */
async function openRoom(page: Page, room: string): Promise<void> {
  await page.getByTestId('room-list').getByText(room).first().click();
  await page.getByTestId('room-title').filter({ hasText: room }).waitFor();
}

describe('chat-web: replies, threads and reactions', () => {
  const suite = browserSuite();

  test('two people: a reply quotes and jumps to the original; the thread in a side panel with its count and unread state; reactions through the picker', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    const bob = await suite.page();
    const aliceName = await signUp(alice.page, suite.server.url, 'Alice');
    const bobName = await signUp(bob.page, suite.server.url, 'Bob');
    const room = `threads-${process.pid}`;
    await createRoom(alice.page, room);
    const { hub: bobHub } = await hubAs(suite.server.url, bobName);
    const [publicRoom] = (await bobHub.invoke('listPublicRooms')).filter(
      (r: { name: string }) => r.name === room,
    );
    await bobHub.invoke('joinRoom', publicRoom.id);
    await bobHub.stop();
    await openRoom(bob.page, room);
    const a = alice.page;
    const b = bob.page;

    await send(a, 'Where do we meet?\nsecond line');
    await item(b, 'Where do we meet?').waitFor();
    // Bob replies from the message's actions.
    await item(b, 'Where do we meet?').hover();
    await item(b, 'Where do we meet?').getByTestId('message-reply').click();
    await b.getByTestId('reply-target').waitFor();
    // The composer completes @mentions from the room's members.
    const composer = b.getByTestId('message-input');
    await composer.pressSequentially(`At the station @${aliceName.slice(0, 3)}`);
    await b
      .getByTestId('mention-option')
      .filter({ hasText: `@${aliceName}` })
      .waitFor();
    assert.deepEqual(await axeViolations(b), [], 'mention completion');
    await composer.press('Enter');
    assert.equal(await composer.inputValue(), `At the station @${aliceName} `);
    await b.getByTestId('message-send').click();
    const reply = item(a, 'At the station');
    await reply.getByTestId('reply-quote').waitFor();
    assert.match((await reply.getByTestId('reply-quote').textContent()) ?? '', /You.*Where do we meet\?/);
    assert.doesNotMatch((await reply.getByTestId('reply-quote').textContent()) ?? '', /second line/);
    // The mention of Alice stands out for her.
    await reply.locator('.mention.me').waitFor();
    // The parent shows its reply count; the quote jumps to it.
    const parent = item(a, 'Where do we meet?');
    await parent.getByTestId('thread-open').filter({ hasText: '1 reply' }).waitFor();
    await reply.getByTestId('reply-quote').click();
    await a.waitForFunction(() => document.activeElement?.classList.contains('highlight'));

    // Alice opens the thread and answers in it.
    await parent.getByTestId('thread-open').click();
    const panel = a.getByTestId('thread-panel');
    await panel.getByTestId('thread-reply').filter({ hasText: 'At the station' }).waitFor();
    await panel.getByTestId('thread-input').fill('See you at noon');
    await panel.getByTestId('thread-send').click();
    await panel.getByTestId('thread-reply').filter({ hasText: 'See you at noon' }).waitFor();
    assert.deepEqual(await axeViolations(a), [], 'thread panel');

    // Bob: the count moves to 2, and the thread is unread for him (he replied in it before).
    const bobParent = item(b, 'Where do we meet?').getByTestId('thread-open');
    await bobParent.filter({ hasText: '2 replies' }).waitFor();
    await b.waitForFunction(
      () => document.querySelector('[data-testid="thread-open"]')?.getAttribute('data-unread') === 'true',
    );
    await bobParent.click();
    await b
      .getByTestId('thread-panel')
      .getByTestId('thread-reply')
      .filter({ hasText: 'See you at noon' })
      .waitFor();
    await b.waitForFunction(
      () => document.querySelector('[data-testid="thread-open"]')?.getAttribute('data-unread') === 'false',
    );
    await b.getByTestId('thread-close').click();

    // Deleting the parent keeps the thread.
    await parent.hover();
    await parent.getByTestId('message-delete').click();
    await a.getByTestId('confirm-ok').click();
    await b.getByTestId('message-list').getByText('This message was deleted.').waitFor();
    await b.getByTestId('thread-open').click();
    await b.getByTestId('thread-panel').getByText('Message deleted').waitFor();
    assert.equal(await b.getByTestId('thread-panel').getByTestId('thread-reply').count(), 2);
    await b.getByTestId('thread-close').click();

    // Reactions through the picker (loaded on first use), several per message, toggled per person.
    const target = item(b, 'See you at noon');
    await target.hover();
    await target.getByTestId('reaction-add').click();
    const picker = b.getByTestId('emoji-picker');
    await picker.waitFor();
    assert.deepEqual(await axeViolations(b), [], 'emoji picker');
    await picker.getByTestId('emoji-search').fill('rocket');
    await picker.getByRole('button', { name: 'rocket' }).click();
    await picker.waitFor({ state: 'detached' });
    await target.hover();
    await target.getByTestId('reaction-add').click();
    await b.getByTestId('emoji-search').fill('red heart');
    await b.getByTestId('emoji-picker').getByRole('button', { name: 'red heart', exact: true }).click();
    const aliceChips = item(a, 'See you at noon').getByTestId('reaction-chip');
    await aliceChips.filter({ hasText: '❤️ 1' }).waitFor();
    assert.deepEqual(await aliceChips.allTextContents().then((x) => x.map((s) => s.slice(0, 4).trim())), [
      '🚀 1',
      '❤️ 1',
    ]);
    // Alice adds hers to the rocket, then takes it back.
    const rocket = aliceChips.filter({ hasText: '🚀' });
    await rocket.click();
    await rocket.filter({ hasText: '🚀 2' }).waitFor();
    // Who reacted: shown on focus (and hover), and named for screen readers.
    await rocket.focus();
    await a.keyboard.press('Shift+Tab');
    await a.keyboard.press('Tab');
    const who = rocket.getByTestId('reaction-who');
    await who.waitFor({ state: 'visible' });
    assert.equal(await who.textContent(), 'Bob, You');
    const describedBy = (await rocket.getAttribute('aria-describedby')) ?? '';
    assert.equal(
      await a.locator(`[id="${describedBy}"]`).textContent(),
      'Bob, You',
      'named for screen readers',
    );
    await rocket.click();
    await rocket.filter({ hasText: '🚀 1' }).waitFor();
    assert.deepEqual(await axeViolations(a), [], 'reactions');
  });
});
