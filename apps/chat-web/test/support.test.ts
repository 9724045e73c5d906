/**
 * The support desk in Chromium: a guest asks for support and waits visibly; the request shows in
 * the agents' live queue; an agent claims it and answers; the agent transfers it to another
 * agent, who closes it; the customer sees each step. axe-core checks the customer's and the
 * agents' views.
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
  send,
  signIn,
  signUp,
  startWebServer,
  type WatchedPage,
  type WebServer,
  waitForTexts,
  watchedPage,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web support desk', () => {
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

  async function page(): Promise<WatchedPage> {
    browser ??= await launchChromium();
    return watchedPage(await browser.newContext());
  }

  /** Signs up, becomes an agent and signs in again (the new token carries the role). */
  async function agent(name: string): Promise<WatchedPage> {
    const p = await page();
    const username = await signUp(p.page, server.url, name);
    await server.makeAgent(username);
    await p.page.getByTestId('logout').click();
    await signIn(p.page, server.url, username);
    await p.page.getByTestId('support-queue-link').click();
    await p.page.getByTestId('support-queue').waitFor();
    return p;
  }

  test('a guest asks for support, waits, and agents claim, answer, transfer and close', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const ada = await agent('Ada');
    const ben = await agent('Ben');
    // Ada is busy in another conversation when the request arrives.
    await createRoom(ada.page, `Agents ${process.pid}`);

    const guest = await page();
    await guest.page.goto(server.url);
    await guest.page.getByTestId('contact-support').click();
    await guest.page.getByTestId('guest-name').fill('Gwen');
    await guest.page.getByTestId('guest-submit').click();
    await guest.page.getByTestId('support-subject').fill('Cannot pay my invoice');
    await guest.page.getByTestId('support-text').fill('The pay button does nothing.');
    await guest.page.getByTestId('support-submit').click();
    await waitForTexts(guest.page, ['The pay button does nothing.']);
    const status = guest.page.getByTestId('support-status');
    await status.and(guest.page.locator('[data-state="waiting"]')).waitFor();
    assert.match((await status.textContent()) ?? '', /Waiting for an agent/);
    assert.deepEqual(await axeViolations(guest.page), []);

    // Ada, in another conversation, gets a notice and a count in the title; Ben, at the queue, not.
    const notice = ada.page.getByTestId('support-notice');
    await notice.filter({ hasText: 'New support request from Gwen: "Cannot pay my invoice"' }).waitFor();
    assert.equal(await ada.page.title(), '(1) Switchboard chat');
    assert.deepEqual(await axeViolations(ada.page), []);
    assert.equal(await ben.page.getByTestId('support-notice').isVisible(), false);
    assert.equal(await ben.page.title(), 'Switchboard chat');
    await ada.page.getByTestId('support-notice-open').click();
    await notice.waitFor({ state: 'hidden' });
    assert.equal(await ada.page.title(), 'Switchboard chat');

    // The request appears live in both agents' queues, with the customer's name; Ada claims it.
    const item = (p: WatchedPage) =>
      p.page.getByTestId('queue-item').filter({ hasText: 'Cannot pay my invoice' });
    await item(ben).waitFor();
    assert.equal(await item(ben).getByTestId('queue-customer').textContent(), 'Gwen');
    assert.equal(await item(ada).getByTestId('queue-customer').textContent(), 'Gwen');
    await item(ada).getByTestId('queue-claim').click();
    await item(ben).filter({ hasText: 'With Ada' }).waitFor();
    assert.equal(await item(ben).getByTestId('queue-claim').count(), 0);
    await ada.page.getByTestId('agent-capacity').filter({ hasText: 'You handle 1 of' }).waitFor();
    assert.deepEqual(await axeViolations(ada.page), []);
    await status.and(guest.page.locator('[data-state="assigned"]')).waitFor();
    assert.match((await status.textContent()) ?? '', /Ada/);

    // Ada opens the conversation, sees the customer's message and answers.
    await item(ada).getByTestId('queue-open').click();
    await waitForTexts(ada.page, ['The pay button does nothing.']);
    await send(ada.page, 'Hello Gwen, let me look.');
    await waitForTexts(guest.page, ['The pay button does nothing.', 'Hello Gwen, let me look.']);
    await send(guest.page, 'Thank you!');
    await waitForTexts(ada.page, ['The pay button does nothing.', 'Hello Gwen, let me look.', 'Thank you!']);

    // Ada hands it to Ben from inside the conversation; Ben sees the earlier history, answers and
    // closes it from inside the conversation too.
    await ada.page.getByTestId('conversation-transfer-agent').selectOption({ label: 'Ben' });
    assert.deepEqual(await axeViolations(ada.page), []);
    await ada.page.getByTestId('conversation-transfer').click();
    await ada.page.getByTestId('conversation-support').waitFor({ state: 'detached' });
    await item(ben).filter({ hasText: 'With you' }).waitFor();
    await status.filter({ hasText: 'Ben' }).waitFor();
    await item(ben).getByTestId('queue-open').click();
    await waitForTexts(ben.page, ['The pay button does nothing.', 'Hello Gwen, let me look.', 'Thank you!']);
    await send(ben.page, 'Fixed on our side.');
    await ben.page.getByTestId('conversation-close').click();
    await status.and(guest.page.locator('[data-state="closed"]')).waitFor();
    await ben.page.getByTestId('support-queue-link').click();
    await ben.page.getByTestId('support-queue').waitFor();
    assert.equal(await item(ben).count(), 0);

    // After a reload the guest still sees who wrote: the agents' names, not "Someone".
    const all = [
      'The pay button does nothing.',
      'Hello Gwen, let me look.',
      'Thank you!',
      'Fixed on our side.',
    ];
    await guest.page.reload();
    await waitForTexts(guest.page, all);
    const senders = () =>
      guest.page.evaluate(() =>
        Array.from(document.querySelectorAll('[data-testid="message-item"] .sender'), (e) => e.textContent),
      );
    await guest.page.waitForFunction(() =>
      Array.from(document.querySelectorAll('[data-testid="message-item"] .sender')).every(
        (e) => e.textContent !== 'Someone',
      ),
    );
    assert.deepEqual(await senders(), ['You', 'Ada', 'You', 'Ben']);

    assert.deepEqual(guest.dialogs, [], 'no browser dialog');
    for (const p of [ada, ben, guest]) assert.deepEqual(p.errors, []);
  });
});
