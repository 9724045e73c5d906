/**
 * Conversations in a real browser (Debian's Chromium through playwright-core): two people in two
 * contexts, one person in two tabs, reloads, older history on scroll, and markup shown as text.
 * Every page's console errors must stay empty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, connectClient, requireService } from '@switchboard/testkit';
import {
  answerConfirm,
  axeViolations,
  browserSuite,
  createRoom,
  hasHorizontalScroll,
  messageTexts,
  send,
  signUp,
  type WatchedPage,
  waitForTexts,
  watchedPage,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: conversations', () => {
  const suite = browserSuite();

  test('two people chat: rooms, directs, presence, typing, reactions, edits, deletions, search; markup is text', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    const bob = await suite.page();
    await signUp(alice.page, suite.server.url, 'Alice');
    const bobName = await signUp(bob.page, suite.server.url, 'Bob');
    const room = `lobby-${process.pid}`;
    await createRoom(alice.page, room);

    // Bob browses the public rooms and joins.
    await bob.page.getByTestId('browse-rooms').click();
    await bob.page.getByTestId('public-rooms').getByText(`# ${room}`).waitFor();
    await bob.page
      .getByTestId('public-rooms')
      .locator('li', { hasText: room })
      .getByTestId('join-room')
      .click();
    await bob.page.getByTestId('room-title').filter({ hasText: room }).waitFor();

    const markup = '<img src=x onerror=alert(1)>';
    await send(alice.page, markup);
    await waitForTexts(bob.page, [markup]);
    assert.equal(await bob.page.getByTestId('message-list').locator('img').count(), 0);
    const longWord = 'x'.repeat(600);
    await send(bob.page, longWord);
    await waitForTexts(alice.page, [markup, longWord]);
    assert.equal(await hasHorizontalScroll(alice.page), false);
    const listBox = await alice.page.getByTestId('message-list').boundingBox();
    const textBox = await alice.page.getByTestId('message-text').last().boundingBox();
    assert.ok(listBox && textBox && textBox.width <= listBox.width, 'a long word wraps inside the list');

    // Typing.
    await bob.page.getByTestId('message-input').pressSequentially('hel');
    await alice.page.getByTestId('typing-indicator').filter({ hasText: 'Bob is typing' }).waitFor();
    await bob.page.getByTestId('message-input').fill('');

    // Reactions, edits and deletions appear on the other side.
    const first = (p: WatchedPage) => p.page.getByTestId('message-item').first();
    await first(bob).hover();
    await first(bob).getByRole('button', { name: 'React with 👍' }).click();
    await first(alice).getByTestId('message-reactions').filter({ hasText: '👍 1' }).waitFor();
    await first(alice).hover();
    await first(alice).getByTestId('message-edit').click();
    await alice.page.getByTestId('message-edit-input').fill('hello, edited');
    await alice.page.getByTestId('message-edit-save').click();
    await first(bob).getByTestId('message-edited').waitFor();
    await waitForTexts(bob.page, ['hello, edited', longWord]);
    await first(alice).hover();
    await first(alice).getByTestId('message-delete').click();
    await answerConfirm(alice.page, true);
    await first(bob).getByText('This message was deleted.').waitFor();

    // Search.
    await send(alice.page, 'the quokka report is ready');
    await waitForTexts(bob.page, ['hello, edited', longWord, 'the quokka report is ready'].slice(1));
    await bob.page.getByTestId('search-input').fill('quokka');
    await bob.page.getByTestId('search-input').press('Enter');
    await bob.page.getByTestId('search-result').filter({ hasText: 'the quokka report is ready' }).waitFor();
    await bob.page.keyboard.press('Escape');

    // A direct conversation, with one presence dot for Bob however many tabs he has.
    await alice.page.getByTestId('find-people').click();
    await alice.page.getByTestId('people-query').fill(bobName);
    await alice.page.getByTestId('people-results').getByTestId('people-pick').first().click();
    await alice.page.getByTestId('people-go').click();
    await alice.page.getByTestId('room-title').filter({ hasText: 'Bob' }).waitFor();
    const bobTab2 = await bob.page.context().newPage();
    await bobTab2.goto(suite.server.url);
    await bobTab2.getByTestId('room-list').waitFor();
    const direct = alice.page.getByTestId('room-item').filter({ hasText: 'Bob' });
    await direct.locator('[data-testid="presence-dot"][data-online="true"]').waitFor();
    assert.equal(await direct.getByTestId('presence-dot').count(), 1);
    await send(alice.page, 'just you and me');
    const bobDirect = bob.page.getByTestId('room-item').filter({ hasText: 'Alice' });
    await bobDirect.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await bobDirect.click();
    await waitForTexts(bob.page, ['just you and me']);
    await bobTab2.close();

    // A group conversation: Alice with Bob and Cleo; Cleo sees it with one dot per other person.
    const cleo = await suite.page();
    const cleoName = await signUp(cleo.page, suite.server.url, 'Cleo');
    await alice.page.getByTestId('find-people').click();
    for (const name of [bobName, cleoName]) {
      await alice.page.getByTestId('people-query').fill(name);
      await alice.page.getByTestId('people-results').filter({ hasText: name }).waitFor();
      await alice.page.getByTestId('people-pick').first().click();
    }
    await alice.page.getByTestId('people-chosen').filter({ hasText: 'Bob, Cleo' }).waitFor();
    await alice.page.getByTestId('people-go').click();
    await alice.page.getByTestId('room-title').filter({ hasText: 'Bob, Cleo' }).waitFor();
    await send(alice.page, 'hello both');
    const group = cleo.page.getByTestId('room-item').filter({ hasText: 'Alice, Bob' });
    await group.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    assert.equal(await group.getByTestId('presence-dot').count(), 2);

    // Members; axe on the chat view.
    await alice.page.getByTestId('room-item').filter({ hasText: room }).click();
    await alice.page.getByTestId('room-members').click();
    await alice.page.getByTestId('member-item').nth(1).waitFor();
    assert.equal(await alice.page.getByTestId('member-item').count(), 2);
    await alice.page.keyboard.press('Escape');
    assert.deepEqual(await axeViolations(alice.page), []);

    // Bob leaves the room: it goes from his list.
    await bob.page.getByTestId('room-item').filter({ hasText: room }).click();
    await bob.page.getByTestId('room-leave').click();
    await answerConfirm(bob.page, true);
    await bob.page.getByTestId('room-item').filter({ hasText: room }).waitFor({ state: 'detached' });
    assert.deepEqual([...alice.dialogs, ...bob.dialogs], []);
  });

  test('one person in two tabs: sent messages, read state and unread counts agree; a reload keeps history', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const carol = await suite.page();
    const dave = await suite.page();
    const carolName = await signUp(carol.page, suite.server.url, 'Carol');
    const daveName = await signUp(dave.page, suite.server.url, 'Dave');
    const room = `team-${process.pid}`;
    await createRoom(carol.page, room, true);
    await carol.page.getByTestId('room-invite').click();
    await carol.page.getByTestId('people-query').fill(daveName);
    await carol.page.getByTestId('people-pick').first().click();
    await carol.page.getByTestId('people-go').click();
    await dave.page.getByTestId('room-item').filter({ hasText: room }).waitFor();

    // Carol's second tab shares the session (localStorage) and stays on the welcome view.
    const tab2 = await watchedPage(carol.page.context());
    suite.pages.push(tab2);
    await tab2.page.goto(suite.server.url);
    await tab2.page.getByTestId('room-item').filter({ hasText: room }).waitFor();
    // Tab 1 leaves the room view so that new messages count as unread there too.
    await carol.page.getByTestId('browse-rooms').click();
    await carol.page.keyboard.press('Escape');
    await carol.page.evaluate(() => history.replaceState(null, '', '/'));
    await carol.page.reload();
    await carol.page.getByTestId('room-list').waitFor();

    await dave.page.getByTestId('room-item').filter({ hasText: room }).click();
    await send(dave.page, 'one');
    await send(dave.page, `two @${carolName}`);
    const badge = (p: WatchedPage) =>
      p.page.getByTestId('room-item').filter({ hasText: room }).getByTestId('unread-badge');
    await badge(carol).filter({ hasText: '2' }).waitFor();
    await badge(tab2).filter({ hasText: '2' }).waitFor();
    const mention = (p: WatchedPage) =>
      p.page.getByTestId('room-item').filter({ hasText: room }).getByTestId('mention-badge');
    await mention(carol).filter({ hasText: '@1' }).waitFor();
    await mention(tab2).filter({ hasText: '@1' }).waitFor();

    // Reading in one tab clears the count in the other.
    await tab2.page.getByTestId('room-item').filter({ hasText: room }).click();
    await waitForTexts(tab2.page, ['one', `two @${carolName}`]);
    // The read marker sits before the first unread message.
    const marker = tab2.page.locator('[data-testid="read-marker"] + [data-testid="message-item"]');
    assert.equal(await marker.getByTestId('message-text').textContent(), 'one');
    await badge(carol).waitFor({ state: 'detached' });
    await mention(carol).waitFor({ state: 'detached' });
    assert.equal(await badge(tab2).count(), 0);
    assert.equal(await mention(tab2).count(), 0);

    // A message sent in one tab shows in the other, once.
    await carol.page.getByTestId('room-item').filter({ hasText: room }).click();
    await send(tab2.page, 'from tab two');
    await waitForTexts(carol.page, ['one', `two @${carolName}`, 'from tab two']);
    await waitForTexts(tab2.page, ['one', `two @${carolName}`, 'from tab two']);
    await waitForTexts(dave.page, ['one', `two @${carolName}`, 'from tab two']);

    // A reload keeps the session and the history.
    await carol.page.reload();
    await carol.page.getByTestId('room-item').filter({ hasText: room }).click();
    await waitForTexts(carol.page, ['one', `two @${carolName}`, 'from tab two']);
    assert.deepEqual(await messageTexts(carol.page), ['one', `two @${carolName}`, 'from tab two']);

    // Sign out ends the session in this context.
    await carol.page.getByTestId('logout').click();
    await carol.page.getByTestId('login-username').waitFor();
  });

  test('older history loads on scroll', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const erin = await suite.page();
    await signUp(erin.page, suite.server.url, 'Erin');
    const room = `history-${process.pid}`;
    await createRoom(erin.page, room);
    const texts = Array.from({ length: 60 }, (_, i) => `note ${i + 1}`);
    const token = await erin.page.evaluate(
      () => JSON.parse(localStorage.getItem('switchboard.session')!).token as string,
    );
    const roomId = await erin.page
      .getByTestId('room-item')
      .filter({ hasText: room })
      .getAttribute('data-room-id');
    // The notes go in through the official client, as another device of Erin's would send them.
    const other = await connectClient(`${suite.server.url}/hubs/chat`, { accessTokenFactory: () => token });
    for (const [i, text] of texts.entries())
      await other.invoke('sendMessage', { roomId, text, clientMessageId: `h-${i}` });
    await other.stop();
    await erin.page.reload();
    await erin.page.getByTestId('room-item').filter({ hasText: room }).click();
    await waitForTexts(erin.page, texts.slice(10));
    await erin.page.getByTestId('message-list').evaluate((list) => {
      list.scrollTop = 0;
    });
    await waitForTexts(erin.page, texts);
  });
});
