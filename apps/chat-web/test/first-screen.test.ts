/**
 * The chat's first screen and its reach in a real browser (Debian's Chromium through
 * playwright-core): what the server serves, the sign-in screen (no console errors, axe),
 * keyboard-only use, and a 375x667 screen. Every page's console errors must stay empty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import {
  axeViolations,
  browserSuite,
  createRoom,
  hasHorizontalScroll,
  send,
  signUp,
  uniqueName,
  waitForTexts,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: first screen, keyboard, small screens', () => {
  const suite = browserSuite();

  test('the server serves the app: content types, cache headers, client paths, no traversal, API 404s', async () => {
    const index = await fetch(`${suite.server.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'index.html loads a hashed script');
    const asset = await fetch(`${suite.server.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    const clientPath = await fetch(`${suite.server.url}/rooms/some-room`);
    assert.equal(clientPath.status, 200);
    assert.equal(await clientPath.text(), html);
    const missingAsset = await fetch(`${suite.server.url}/assets/nope-123.js`);
    assert.equal(missingAsset.status, 404);
    for (const path of [
      '/%2e%2e/%2e%2e/package.json',
      '/..%2f..%2fpackage.json',
      '/assets/..%2f..%2f..%2fpackage.json',
    ]) {
      const r = await fetch(`${suite.server.url}${path}`);
      const body = await r.text();
      assert.ok(
        !body.includes('"workspaces"') && !body.includes('@switchboard/chat-web'),
        `${path} leaks a file`,
      );
    }
    const api = await fetch(`${suite.server.url}/api/nope`);
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'SB_CHAT_NOT_FOUND');
    assert.equal((await fetch(`${suite.server.url}/healthz`)).status, 200);
  });

  test('a fresh visit offers sign-in, sign-up and support, logs no errors and passes axe', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const { page: p, errors } = await suite.page();
    await p.goto(suite.server.url);
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
    const r = await fetch(`${suite.server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password: 'password123', displayName: 'Keys' }),
    });
    assert.equal(r.status, 201);
    const { page: p } = await suite.page();
    await p.goto(suite.server.url);
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
    // The message's actions are reachable with the keyboard: back from the composer to a reaction.
    const label = () => p.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    for (let i = 0; i < 10 && (await label()) !== 'React with 👍'; i++) await p.keyboard.press('Shift+Tab');
    assert.equal(await label(), 'React with 👍');
    await p.keyboard.press('Enter');
    await p.getByTestId('message-reactions').filter({ hasText: '👍 1' }).waitFor();
  });

  test('a 375x667 screen has no horizontal scroll', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const small = await suite.page({ viewport: { width: 375, height: 667 } });
    await small.page.goto(suite.server.url);
    assert.equal(await hasHorizontalScroll(small.page), false);
    await signUp(small.page, suite.server.url, 'Frank');
    assert.equal(await hasHorizontalScroll(small.page), false);
    await createRoom(small.page, `small-${process.pid}-with-a-rather-long-name-that-goes-on`);
    await send(small.page, `a very long word: ${'y'.repeat(300)}`);
    await small.page.getByTestId('message-item').first().waitFor();
    assert.equal(await hasHorizontalScroll(small.page), false);
    assert.deepEqual(await axeViolations(small.page), []);
  });
});
