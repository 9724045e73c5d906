#!/usr/bin/env node
// Takes screenshots of the chat's main views into docs/screenshots/ (sign-in, chat, agents'
// queue, customer support, mobile). Needs `npm run build` first: it runs the built chat server on a
// free port with a temporary SQLite data directory and drives Debian's Chromium.
//
//   npm run build && node apps/chat-web/scripts/screenshots.mjs
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createChatApp, loadConfig } from '@switchboard/chat-server';
import { silentLogger } from '@switchboard/server';
import { launchChromium } from '@switchboard/testkit';

const out = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
mkdirSync(out, { recursive: true });
const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-shots-'));
const app = await createChatApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir }), {
  logger: silentLogger,
  drainTimeoutMs: 300,
});
const url = await app.listen();
const browser = await launchChromium();
const desktop = { viewport: { width: 1200, height: 720 } };

async function signUp(page, username, displayName) {
  await page.goto(url);
  await page.getByTestId('signup-link').click();
  await page.getByTestId('login-username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByTestId('login-password').fill('password123');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('room-list').waitFor();
  await page.getByTestId('connection-banner').waitFor({ state: 'hidden' });
}
async function send(page, text) {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('message-send').click();
  await page.getByTestId('message-text').filter({ hasText: text }).last().waitFor();
}

try {
  const alice = await (await browser.newContext(desktop)).newPage();
  await alice.goto(url);
  await alice.screenshot({ path: join(out, 'sign-in.png') });

  const bob = await (await browser.newContext({ viewport: { width: 375, height: 667 } })).newPage();
  await signUp(alice, 'alice', 'Alice');
  await signUp(bob, 'bob', 'Bob');
  await alice.getByTestId('new-room').click();
  await alice.getByTestId('new-room-name').fill('general');
  await alice.getByTestId('new-room-submit').click();
  await alice.getByTestId('room-title').filter({ hasText: 'general' }).waitFor();
  await alice.getByTestId('new-room').click();
  await alice.getByTestId('new-room-name').fill('design');
  await alice.getByTestId('new-room-submit').click();
  await alice.getByTestId('room-title').filter({ hasText: 'design' }).waitFor();
  await bob.getByTestId('browse-rooms').click();
  await bob
    .getByTestId('public-rooms')
    .locator('li', { hasText: 'general' })
    .getByTestId('join-room')
    .click();
  await bob.getByTestId('room-title').filter({ hasText: 'general' }).waitFor();
  await send(bob, 'Morning! Is the release still on for today?');
  await alice.getByTestId('room-item').filter({ hasText: 'general' }).click();
  await send(alice, 'Yes, at 3 pm. @bob can you check the changelog?');
  await send(bob, 'On it 👍');
  await send(bob, '<img src=x onerror=alert(1)> shows as text, never as HTML');
  await bob.getByTestId('message-item').first().hover();
  await bob.getByTestId('message-item').first().getByRole('button', { name: 'React with 👍' }).click();
  await alice.getByTestId('message-reactions').first().waitFor();
  await alice.getByTestId('find-people').click();
  await alice.getByTestId('people-query').fill('bob');
  await alice.getByTestId('people-pick').first().click();
  await alice.getByTestId('people-go').click();
  await send(alice, 'Thanks for the help today!');
  await alice.getByTestId('room-item').filter({ hasText: 'general' }).click();
  await bob.getByTestId('message-input').pressSequentially('Almost done');
  await alice.getByTestId('typing-indicator').filter({ hasText: 'typing' }).waitFor();
  await alice.screenshot({ path: join(out, 'chat.png') });
  await bob.screenshot({ path: join(out, 'mobile.png') });

  const customer = await (await browser.newContext(desktop)).newPage();
  const agentPage = await (await browser.newContext(desktop)).newPage();
  await signUp(agentPage, 'ada', 'Ada');
  await app.accounts.setRole('ada', 'agent');
  await agentPage.getByTestId('logout').click();
  await agentPage.getByTestId('login-username').fill('ada');
  await agentPage.getByTestId('login-password').fill('password123');
  await agentPage.getByTestId('login-submit').click();
  await agentPage.getByTestId('support-queue-link').click();
  await customer.goto(url);
  await customer.getByTestId('contact-support').click();
  await customer.getByTestId('guest-name').fill('Gwen');
  await customer.getByTestId('guest-submit').click();
  await customer.getByTestId('support-subject').fill('Cannot pay my invoice');
  await customer.getByTestId('support-text').fill('The pay button does nothing when I click it.');
  await customer.getByTestId('support-submit').click();
  await customer.locator('[data-testid="support-status"][data-state="waiting"]').waitFor();
  await agentPage.getByTestId('queue-item').first().waitFor();
  await agentPage.screenshot({ path: join(out, 'agent-queue.png') });
  await agentPage.getByTestId('queue-claim').first().click();
  await agentPage.getByTestId('queue-open').first().click();
  await send(agentPage, 'Hello Gwen, I am looking into it right now.');
  await customer.locator('[data-testid="support-status"][data-state="assigned"]').waitFor();
  await customer.getByTestId('message-text').filter({ hasText: 'looking into it' }).waitFor();
  await customer.screenshot({ path: join(out, 'customer-support.png') });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}
