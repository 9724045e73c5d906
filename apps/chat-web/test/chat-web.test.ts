/**
 * The chat in a real browser (Debian's Chromium through playwright-core): the first screen, two
 * people chatting, one person in two tabs, reloads, keyboard-only use, a small screen, markup
 * shown as text, and axe-core on the main views. Every page's console errors are collected and
 * must stay empty.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CHROMIUM_PATH, launchChromium, requireService } from '@switchboard/testkit';
import type { Browser } from 'playwright-core';
import {
  axeViolations,
  buildWebApp,
  closeAll,
  createRoom,
  hasHorizontalScroll,
  messageTexts,
  send,
  signIn,
  signUp,
  startWebServer,
  uniqueName,
  type WatchedPage,
  type WebServer,
  waitForTexts,
  watchedPage,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web in Chromium', () => {
  let webRoot: string;
  let server: WebServer;
  let browser: Browser | undefined;
  const pages: WatchedPage[] = [];

  before(async () => {
    webRoot = await buildWebApp();
    server = await startWebServer(webRoot);
  });
  after(async () => {
    await closeAll(browser);
    await server?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
    for (const p of pages) assert.deepEqual(p.errors, [], 'console errors');
  });

  async function page(options: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
    browser ??= await launchChromium();
    const context = await browser.newContext(options.viewport ? { viewport: options.viewport } : {});
    const watched = await watchedPage(context);
    pages.push(watched);
    return watched;
  }

  test('the server serves the app: content types, cache headers, client paths, no traversal, API 404s', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'index.html loads a hashed script');
    const asset = await fetch(`${server.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    const clientPath = await fetch(`${server.url}/rooms/some-room`);
    assert.equal(clientPath.status, 200);
    assert.equal(await clientPath.text(), html);
    const missingAsset = await fetch(`${server.url}/assets/nope-123.js`);
    assert.equal(missingAsset.status, 404);
    for (const path of [
      '/%2e%2e/%2e%2e/package.json',
      '/..%2f..%2fpackage.json',
      '/assets/..%2f..%2f..%2fpackage.json',
    ]) {
      const r = await fetch(`${server.url}${path}`);
      const body = await r.text();
      assert.ok(
        !body.includes('"workspaces"') && !body.includes('@switchboard/chat-web'),
        `${path} leaks a file`,
      );
    }
    const api = await fetch(`${server.url}/api/nope`);
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'SB_CHAT_NOT_FOUND');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('a fresh visit offers sign-in, sign-up and support, logs no errors and passes axe', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const { page: p, errors } = await page();
    await p.goto(server.url);
    for (const id of ['login-username', 'login-password', 'login-submit', 'signup-link', 'contact-support']) {
      assert.ok(await p.getByTestId(id).isVisible(), id);
    }
    assert.deepEqual(await axeViolations(p), []);
    await p.getByTestId('signup-link').click();
    assert.ok(await p.getByLabel('Display name').isVisible());
    assert.deepEqual(await axeViolations(p), []);
    await p.getByTestId('login-username').fill('nobody-here');
    await p.getByTestId('signin-link').click();
    await p.getByTestId('login-username').fill('nobody-here');
    await p.getByTestId('login-password').fill('wrong-password');
    await p.getByTestId('login-submit').click();
    await p.getByTestId('login-error').filter({ hasText: /./ }).waitFor();
    // A 401 from the API is logged by Chromium as a failed resource load: that one is expected.
    const unexpected = errors.filter((e) => !/status of 401/.test(e));
    errors.length = 0;
    assert.deepEqual(unexpected, []);
  });

  test('a keyboard-only user signs in, creates a room and sends', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const username = uniqueName('keys');
    const r = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password: 'password123', displayName: 'Keys' }),
    });
    assert.equal(r.status, 201);
    const { page: p } = await page();
    await p.goto(server.url);
    const focused = () => p.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
    assert.equal(await focused(), 'login-username');
    await p.keyboard.type(username);
    await p.keyboard.press('Tab');
    assert.equal(await focused(), 'login-password');
    await p.keyboard.type('password123');
    await p.keyboard.press('Enter');
    await p.getByTestId('room-list').waitFor();
    const tabTo = async (testid: string) => {
      for (let i = 0; i < 40 && (await focused()) !== testid; i++) await p.keyboard.press('Tab');
      assert.equal(await focused(), testid);
    };
    await tabTo('new-room');
    await p.keyboard.press('Enter');
    assert.equal(await focused(), 'new-room-name');
    await p.keyboard.type('keyboard room');
    await p.keyboard.press('Enter');
    await p.getByTestId('room-title').filter({ hasText: 'keyboard room' }).waitFor();
    await tabTo('message-input');
    await p.keyboard.type('typed without a mouse');
    await p.keyboard.press('Enter');
    await waitForTexts(p, ['typed without a mouse']);
    await p.getByTestId('message-item').first().waitFor();
    assert.equal(await p.getByTestId('message-item').first().getAttribute('data-seq'), '1');
  });

  test('two people chat: rooms, directs, presence, typing, reactions, edits, deletions, search; markup is text', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await page();
    const bob = await page();
    await signUp(alice.page, server.url, 'Alice');
    const bobName = await signUp(bob.page, server.url, 'Bob');
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
    await bobTab2.goto(server.url);
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

    // Members; axe on the chat view.
    await alice.page.getByTestId('room-item').filter({ hasText: room }).click();
    await alice.page.getByTestId('room-members').click();
    await alice.page.getByTestId('member-item').nth(1).waitFor();
    assert.equal(await alice.page.getByTestId('member-item').count(), 2);
    await alice.page.keyboard.press('Escape');
    assert.deepEqual(await axeViolations(alice.page), []);
    assert.deepEqual([...alice.dialogs, ...bob.dialogs], []);
  });

  test('one person in two tabs: sent messages, read state and unread counts agree; a reload keeps history', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const carol = await page();
    const dave = await page();
    await signUp(carol.page, server.url, 'Carol');
    const daveName = await signUp(dave.page, server.url, 'Dave');
    const room = `team-${process.pid}`;
    await createRoom(carol.page, room, true);
    await carol.page.getByTestId('room-invite').click();
    await carol.page.getByTestId('people-query').fill(daveName);
    await carol.page.getByTestId('people-pick').first().click();
    await carol.page.getByTestId('people-go').click();
    await dave.page.getByTestId('room-item').filter({ hasText: room }).waitFor();

    // Carol's second tab shares the session (localStorage) and stays on the welcome view.
    const tab2 = await watchedPage(carol.page.context());
    pages.push(tab2);
    await tab2.page.goto(server.url);
    await tab2.page.getByTestId('room-item').filter({ hasText: room }).waitFor();
    // Tab 1 leaves the room view so that new messages count as unread there too.
    await carol.page.getByTestId('browse-rooms').click();
    await carol.page.keyboard.press('Escape');
    await carol.page.evaluate(() => history.replaceState(null, '', '/'));
    await carol.page.reload();
    await carol.page.getByTestId('room-list').waitFor();

    await dave.page.getByTestId('room-item').filter({ hasText: room }).click();
    await send(dave.page, 'one');
    await send(dave.page, 'two @' + 'nobody');
    const badge = (p: WatchedPage) =>
      p.page.getByTestId('room-item').filter({ hasText: room }).getByTestId('unread-badge');
    await badge(carol).filter({ hasText: '2' }).waitFor();
    await badge(tab2).filter({ hasText: '2' }).waitFor();

    // Reading in one tab clears the count in the other.
    await tab2.page.getByTestId('room-item').filter({ hasText: room }).click();
    await waitForTexts(tab2.page, ['one', 'two @nobody']);
    await badge(carol).waitFor({ state: 'detached' });
    assert.equal(await badge(tab2).count(), 0);

    // A message sent in one tab shows in the other, once.
    await carol.page.getByTestId('room-item').filter({ hasText: room }).click();
    await send(tab2.page, 'from tab two');
    await waitForTexts(carol.page, ['one', 'two @nobody', 'from tab two']);
    await waitForTexts(tab2.page, ['one', 'two @nobody', 'from tab two']);
    await waitForTexts(dave.page, ['one', 'two @nobody', 'from tab two']);

    // A reload keeps the session and the history.
    await carol.page.reload();
    await carol.page.getByTestId('room-item').filter({ hasText: room }).click();
    await waitForTexts(carol.page, ['one', 'two @nobody', 'from tab two']);
    assert.deepEqual(await messageTexts(carol.page), ['one', 'two @nobody', 'from tab two']);

    // Sign out ends the session in this context.
    await carol.page.getByTestId('logout').click();
    await carol.page.getByTestId('login-username').waitFor();
  });

  test('older history loads on scroll', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const erin = await page();
    await signUp(erin.page, server.url, 'Erin');
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
    const { connectClient } = await import('@switchboard/testkit');
    const other = await connectClient(`${server.url}/hubs/chat`, { accessTokenFactory: () => token });
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

  test('a 375x667 screen has no horizontal scroll', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const small = await page({ viewport: { width: 375, height: 667 } });
    await small.page.goto(server.url);
    assert.equal(await hasHorizontalScroll(small.page), false);
    await signUp(small.page, server.url, 'Frank');
    assert.equal(await hasHorizontalScroll(small.page), false);
    await createRoom(small.page, `small-${process.pid}-with-a-rather-long-name-that-goes-on`);
    await send(small.page, `a very long word: ${'y'.repeat(300)}`);
    await small.page.getByTestId('message-item').first().waitFor();
    assert.equal(await hasHorizontalScroll(small.page), false);
    assert.deepEqual(await axeViolations(small.page), []);
  });
});
