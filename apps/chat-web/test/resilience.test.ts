/**
 * The chat in Chromium when the network misbehaves: the server restarts (the banner shows, the
 * page reconnects, catches up on what it missed with no gap and no duplicate, and a send that
 * failed meanwhile is retried once), and a page without WebSockets falls back to long polling.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CHROMIUM_PATH, connectClient, launchChromium, requireService } from '@switchboard/testkit';
import type { Browser } from 'playwright-core';
import {
  buildWebApp,
  closeAll,
  createRoom,
  send,
  signUp,
  startWebServer,
  type WatchedPage,
  type WebServer,
  waitConnected,
  waitForTexts,
  watchedPage,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;
/** What Chromium itself logs while the server is away: failed loads and sockets, nothing else. */
const NETWORK_ERROR = /Failed to load resource|WebSocket connection to .* failed|net::ERR_/;

describe('chat-web reconnects and falls back', () => {
  let webRoot: string;
  let server: WebServer;
  let browser: Browser | undefined;

  before(async () => {
    webRoot = await buildWebApp();
    server = await startWebServer(webRoot);
  });
  after(async () => {
    await closeAll(browser);
    await server?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
  });

  async function page(init?: () => void): Promise<WatchedPage> {
    browser ??= await launchChromium();
    const context = await browser.newContext();
    if (init) await context.addInitScript(init);
    return watchedPage(context);
  }

  const token = (p: WatchedPage) =>
    p.page.evaluate(() => JSON.parse(localStorage.getItem('switchboard.session')!).token as string);

  test('a server restart: banner, reconnect, catch-up without gaps or duplicates, a failed send retried once', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await page();
    await signUp(alice.page, server.url, 'Alice');
    const room = `restart-${process.pid}`;
    await createRoom(alice.page, room);
    const roomId = await alice.page
      .getByTestId('room-item')
      .filter({ hasText: room })
      .getAttribute('data-room-id');
    await send(alice.page, 'before');
    await waitForTexts(alice.page, ['before']);
    const aliceToken = await token(alice);

    await server.stop();
    await alice.page.getByTestId('connection-banner').waitFor({ state: 'visible' });
    // A send while the server is away fails visibly and can be retried.
    await send(alice.page, 'sent while away');
    // It is kept, in plain words, never the client library's text.
    const pending = alice.page.getByTestId('message-pending');
    await pending.filter({ hasText: 'Not sent yet: waiting for the connection' }).waitFor();
    assert.equal(await pending.getAttribute('data-status'), 'waiting');
    await pending.getByTestId('message-retry').waitFor();
    assert.doesNotMatch(
      (await pending.textContent()) ?? '',
      /Connected|State|Invocation|Error|connection being closed/,
    );
    // Retry while still away: it keeps waiting (and the page tries to connect at once).
    await pending.getByTestId('message-retry').click();
    await pending.filter({ hasText: 'Not sent yet: waiting for the connection' }).waitFor();

    // The server comes back, but the page cannot reach it yet while others write.
    await alice.page.context().route('**/hubs/chat/negotiate**', (route) => route.abort());
    await server.restart();
    const other = await connectClient(`${server.url}/hubs/chat`, { accessTokenFactory: () => aliceToken });
    const missed = Array.from({ length: 70 }, (_, i) => `missed ${i + 1}`);
    for (const [i, text] of missed.entries()) {
      await other.invoke('sendMessage', { roomId, text, clientMessageId: `missed-${i}` });
    }
    await other.stop();
    assert.ok(await alice.page.getByTestId('connection-banner').isVisible());

    // "Reconnect now" skips the wait; the page catches up and sends the failed message once.
    await alice.page.context().unroute('**/hubs/chat/negotiate**');
    // A DOM click: the page's own retry may win the race and hide the banner first (then it is a no-op).
    await alice.page.getByTestId('reconnect-now').evaluate((button) => (button as HTMLButtonElement).click());
    await waitConnected(alice.page);
    await waitForTexts(alice.page, ['before', ...missed, 'sent while away'], 15_000);
    // The pending row goes once the server's answer is in (it can trail the message by a moment).
    await alice.page.getByTestId('message-pending').waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(await alice.page.getByTestId('message-pending').count(), 0);
    const seqs = await alice.page
      .locator('[data-testid="message-item"][data-seq]')
      .evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-seq'))));
    assert.deepEqual(
      seqs,
      Array.from({ length: 72 }, (_, i) => i + 1),
    );
    const history = await connectClient(`${server.url}/hubs/chat`, { accessTokenFactory: () => aliceToken });
    const stored = (await history.invoke('getHistory', { roomId, limit: 100 })) as { text: string }[];
    await history.stop();
    assert.equal(stored.filter((m) => m.text === 'sent while away').length, 1);
    assert.deepEqual(
      alice.errors.filter((e) => !NETWORK_ERROR.test(e)),
      [],
    );
    assert.deepEqual(alice.dialogs, []);
  });

  test('after another tab refreshed the token, the page reconnects with the new one', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const pat = await page();
    await signUp(pat.page, server.url, 'Pat');
    const before = await token(pat);
    // What another tab's refresh does: trade the token (the old one stops working) and store it.
    await pat.page.evaluate(async (old) => {
      const response = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { Authorization: `Bearer ${old}` },
      });
      localStorage.setItem('switchboard.session', JSON.stringify(await response.json()));
    }, before);
    assert.notEqual(await token(pat), before);
    await server.restart();
    await pat.page
      .getByTestId('connection-banner')
      .waitFor({ state: 'visible' })
      .catch(() => undefined);
    await waitConnected(pat.page);
    await pat.page.getByTestId('room-list').waitFor();
    assert.equal(await pat.page.getByTestId('login-username').count(), 0);
    await pat.page.getByTestId('new-room').click();
    await pat.page.getByTestId('new-room-name').fill(`after-refresh-${process.pid}`);
    await pat.page.getByTestId('new-room-submit').click();
    await pat.page.getByTestId('room-title').filter({ hasText: 'after-refresh' }).waitFor();
    assert.deepEqual(
      pat.errors.filter((e) => !NETWORK_ERROR.test(e)),
      [],
    );
  });

  test('without WebSockets the page uses long polling and still chats both ways', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const noSockets = await page(() => {
      // biome-ignore lint/suspicious/noExplicitAny: removing a global on purpose
      delete (window as any).WebSocket;
    });
    const polls: string[] = [];
    noSockets.page.on('request', (request) => {
      if (/\/hubs\/chat\?id=/.test(request.url())) polls.push(request.method());
    });
    const friend = await page();
    await signUp(noSockets.page, server.url, 'Polly');
    await signUp(friend.page, server.url, 'Sam');
    const room = `polling-${process.pid}`;
    await createRoom(noSockets.page, room);
    await friend.page.getByTestId('browse-rooms').click();
    await friend.page
      .getByTestId('public-rooms')
      .locator('li', { hasText: room })
      .getByTestId('join-room')
      .click();
    await friend.page.getByTestId('room-title').filter({ hasText: room }).waitFor();
    await send(noSockets.page, 'over long polling');
    await waitForTexts(friend.page, ['over long polling']);
    await send(friend.page, 'and back');
    await waitForTexts(noSockets.page, ['over long polling', 'and back']);
    assert.ok(polls.includes('GET') && polls.includes('POST'), `long polling requests: ${polls.join(',')}`);
    assert.equal(await noSockets.page.evaluate(() => typeof WebSocket), 'undefined');
    assert.deepEqual([...noSockets.errors, ...friend.errors], []);
  });
});
