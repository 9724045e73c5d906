/**
 * The timeline never misses a message, in Chromium: Bob leaves and rejoins while Alice posts; an
 * agent reclaims a support conversation after a transfer and a close; a tab frozen by the browser's
 * page lifecycle (so it receives nothing, and the server drops its silent connection) resumes with
 * every message, edit, deletion and reaction the other tab and another person made meanwhile.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import {
  axeViolations,
  browserSuite,
  createRoom,
  hubAs,
  send,
  signIn,
  signUp,
  type WatchedPage,
  waitForTexts,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** Confirms a confirmation dialog when the page asks for one. */
async function confirmIfAsked(page: Page): Promise<void> {
  const ok = page.getByTestId('confirm-ok');
  await ok.waitFor({ timeout: 1_500 }).then(
    () => ok.click(),
    () => undefined,
  );
}

/** The room id of a room in the side list. */
async function roomIdOf(page: Page, name: string): Promise<string> {
  const id = await page.getByTestId('room-item').filter({ hasText: name }).getAttribute('data-room-id');
  assert.ok(id, `room ${name} in the list`);
  return id;
}

async function joinFromBrowse(page: Page, name: string): Promise<void> {
  await page.getByTestId('browse-rooms').click();
  await page.getByTestId('public-rooms').locator('li', { hasText: name }).getByTestId('join-room').click();
  await page.getByTestId('room-title').filter({ hasText: name }).waitFor();
}

describe('chat-web: the timeline has no gap', () => {
  const suite = browserSuite();

  test('Bob leaves and rejoins while Alice posts: both messages appear without a reload', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    const bob = await suite.page();
    await signUp(alice.page, suite.server.url, 'Alice');
    await signUp(bob.page, suite.server.url, 'Bob');
    const room = `hall-${process.pid}`;
    await createRoom(alice.page, room);
    await joinFromBrowse(bob.page, room);
    await send(alice.page, 'before you left');
    await waitForTexts(bob.page, ['before you left']);

    await bob.page.getByTestId('room-leave').click();
    await confirmIfAsked(bob.page);
    await bob.page.getByTestId('room-item').filter({ hasText: room }).waitFor({ state: 'detached' });
    await send(alice.page, 'while you were away (1)');
    await send(alice.page, 'while you were away (2)');
    await waitForTexts(alice.page, ['before you left', 'while you were away (1)', 'while you were away (2)']);

    await joinFromBrowse(bob.page, room);
    await send(alice.page, 'welcome back');
    await waitForTexts(bob.page, [
      'before you left',
      'while you were away (1)',
      'while you were away (2)',
      'welcome back',
    ]);
    const seqs = await bob.page
      .getByTestId('message-list')
      .locator('[data-testid="message-item"][data-seq]')
      .evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-seq'))));
    assert.deepEqual(seqs, [1, 2, 3, 4]);
  });

  test('a support conversation reclaimed after a transfer and a close: the agent sees all 6 messages', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const agent = async (name: string): Promise<WatchedPage> => {
      const p = await suite.page();
      const username = await signUp(p.page, suite.server.url, name);
      await suite.server.makeAgent(username);
      await p.page.getByTestId('logout').click();
      await confirmIfAsked(p.page);
      await signIn(p.page, suite.server.url, username);
      await p.page.getByTestId('support-queue-link').click();
      await p.page.getByTestId('support-queue').waitFor();
      return p;
    };
    const ada = await agent('Ada');
    const ben = await agent('Ben');
    const guest = await suite.page();
    await guest.page.goto(suite.server.url);
    await guest.page.getByTestId('contact-support').click();
    await guest.page.getByTestId('guest-name').fill('Gwen');
    await guest.page.getByTestId('guest-submit').click();
    await guest.page.getByTestId('support-subject').fill('Refund');
    await guest.page.getByTestId('support-text').fill('1 where is my refund?');
    await guest.page.getByTestId('support-submit').click();
    await waitForTexts(guest.page, ['1 where is my refund?']);

    const item = (p: WatchedPage) => p.page.getByTestId('queue-item').filter({ hasText: 'Refund' });
    const texts: string[] = ['1 where is my refund?'];
    const say = async (p: WatchedPage, text: string) => {
      await send(p.page, text);
      texts.push(text);
      await waitForTexts(p.page, texts);
    };
    // Ada claims and answers; the customer writes back.
    await item(ada).getByTestId('queue-claim').click();
    await item(ada).getByTestId('queue-open').click();
    await waitForTexts(ada.page, texts);
    await say(ada, '2 let me check');
    await waitForTexts(guest.page, texts);
    await say(guest, '3 thanks');
    await waitForTexts(ada.page, texts);
    // Ada hands it to Ben, who answers and closes it; the customer writes again (a new request).
    await ada.page.getByTestId('support-queue-link').click();
    await item(ada).getByTestId('transfer-agent').selectOption({ label: 'Ben' });
    await item(ada).getByTestId('queue-transfer').click();
    await item(ben).filter({ hasText: 'With you' }).waitFor();
    await item(ben).getByTestId('queue-open').click();
    await waitForTexts(ben.page, texts);
    await say(ben, '4 refund sent today');
    await waitForTexts(guest.page, texts);
    await ben.page.getByTestId('support-queue-link').click();
    await item(ben).getByTestId('queue-close').click();
    await guest.page.getByTestId('support-status').and(guest.page.locator('[data-state="closed"]')).waitFor();
    await say(guest, '5 it has not arrived');
    await say(guest, '6 can you look again?');
    // Ada claims the new request and opens it: the whole conversation, the new question included.
    await item(ada).getByTestId('queue-claim').click();
    await item(ada).getByTestId('queue-open').click();
    await waitForTexts(ada.page, texts);
    await say(guest, '7 hello?');
    await waitForTexts(ada.page, texts);
    assert.deepEqual(await axeViolations(ada.page), []);
  });

  test('one tab frozen while the other reads and posts: it resumes with no gap and every change', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const first = await suite.page();
    const username = await signUp(first.page, suite.server.url, 'Frida');
    const room = `studio-${process.pid}`;
    await createRoom(first.page, room);
    const roomId = await roomIdOf(first.page, room);
    const { hub: other } = await hubAs(
      suite.server.url,
      await signUp((await suite.page()).page, suite.server.url, 'Otto'),
    );
    await other.invoke('joinRoom', roomId);
    const post = (text: string) =>
      other.invoke('sendMessage', { roomId, text, clientMessageId: `${text}-${Date.now()}` });
    const m1 = await post('one');
    const m2 = await post('two');
    await send(first.page, 'three');
    await waitForTexts(first.page, ['one', 'two', 'three']);

    // The same user's second tab (same session), open on the same room.
    const hub = suite.server.app.hubs.hubContext('/hubs/chat');
    const me = (await suite.server.app.storage.userByUsername(username))!;
    const before = new Set((await hub.presence.userConnections(me.id)).map((c) => c.connectionId));
    const second = await first.page.context().newPage();
    await second.goto(suite.server.url);
    await second.getByTestId('room-item').filter({ hasText: room }).click();
    await waitForTexts(second, ['one', 'two', 'three']);
    const frozenConnections = [...before];
    assert.equal(frozenConnections.length, 1);

    // The first tab is frozen: it runs nothing, and the server drops its silent connection. (Headless
    // Chromium keeps a frozen page running while it is visible, so its script is paused as well.)
    const cdp = await first.page.context().newCDPSession(first.page);
    await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    for (const id of frozenConnections) await hub.connections.close(id, { allowReconnect: true });
    // The server gives a silent client a few seconds for the closing handshake, then cuts it off.
    const until = Date.now() + 30_000;
    for (;;) {
      const live = (await hub.presence.userConnections(me.id)).map((c) => c.connectionId);
      if (!frozenConnections.some((id) => live.includes(id))) break;
      assert.ok(Date.now() < until, 'the frozen tab is cut off');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    // Meanwhile: the other tab posts, edits and deletes; Otto posts and reacts.
    await send(second, 'four');
    await post('five');
    await waitForTexts(second, ['one', 'two', 'three', 'four', 'five']);
    await other.invoke('editMessage', { messageId: m1.id, text: 'one, edited' });
    await other.invoke('deleteMessage', { messageId: m2.id });
    await other.invoke('react', { messageId: m1.id, emoji: '🎉' });
    await waitForTexts(second, ['one, edited', 'three', 'four', 'five']);
    await post('six');

    await cdp.send('Debugger.resume');
    await cdp.send('Debugger.disable');
    await cdp.send('Page.setWebLifecycleState', { state: 'active' });
    const expected = ['one, edited', 'three', 'four', 'five', 'six'];
    await waitForTexts(first.page, expected, 20_000);
    const firstItem = first.page.getByTestId('message-item').first();
    await firstItem.getByTestId('message-reactions').filter({ hasText: '🎉 1' }).waitFor();
    await first.page.getByTestId('message-list').getByText('This message was deleted.').waitFor();
    const seqs = await first.page
      .locator('[data-testid="message-list"] [data-testid="message-item"][data-seq]')
      .evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-seq'))));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
    await other.stop();
  });
});
