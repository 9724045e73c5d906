// The host app in Chromium, beside a real chat: sign-in through the form sets an httpOnly,
// SameSite=Lax session cookie; a script on the host page does what the widget does with
// data-token-url: fetches /chat-token with the page's cookies, then talks to the chat on its other
// origin (ALLOWED_ORIGINS) over HTTP and over the hub with the official browser client; a page of
// another origin cannot read /chat-token; and the widget as the host pages embed it (support and
// inbox modes; the widget's own tests are in apps/chat-web/test/widget.test.ts).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { CHROMIUM_PATH, launchChromium } from '@switchboard/testkit';
import type { Browser } from 'playwright-core';
import { SESSION_COOKIE } from '../src/app.ts';
import { PASSWORD, type Pair, startPair } from './pair.ts';

const skip = existsSync(CHROMIUM_PATH) ? false : `no Chromium at ${CHROMIUM_PATH}`;
if (skip && process.env.CI === 'true') throw new Error(skip);
if (skip) console.warn(`SKIPPED examples/host-app/test/host-app-browser.test.ts: ${skip}`);

const require = createRequire(import.meta.url);
const signalrBundle = join(
  dirname(require.resolve('@microsoft/signalr/package.json')),
  'dist/browser/signalr.js',
);

let pair: Pair;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  pair = await startPair();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await pair?.close();
});

test('signed in through the form, the host page gets its token and reaches the chat across origins', {
  skip,
}, async () => {
  const context = await browser!.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${pair.hostUrl}/signin?next=/support`);
    await page.getByTestId('signin-username').fill('bob');
    await page.getByTestId('signin-password').fill(PASSWORD);
    await page.getByTestId('signin-submit').click();
    await page.waitForURL(`${pair.hostUrl}/support`);
    assert.equal(await page.getByTestId('host-user').textContent(), 'Bob Okafor');

    const cookie = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.ok(
      !(await page.evaluate(() => document.cookie)).includes(SESSION_COOKIE),
      'scripts cannot read it',
    );

    // What the widget does with data-token-url="/chat-token", with the official browser client.
    await page.addScriptTag({ path: signalrBundle });
    // A string, so that the test's compiler adds no helper the page lacks.
    const result = (await page.evaluate(`(async (chatUrl) => {
      async function token() {
        const response = await fetch('/chat-token', { credentials: 'same-origin' });
        if (!response.ok) throw new Error('chat-token ' + response.status);
        return response.text();
      }
      const me = await fetch(chatUrl + '/api/me', { headers: { Authorization: 'Bearer ' + (await token()) } });
      const user = (await me.json()).user;
      const connection = new signalR.HubConnectionBuilder()
        .withUrl(chatUrl + '/hubs/chat', { accessTokenFactory: token })
        .build();
      await connection.start();
      const rooms = await connection.invoke('listRooms');
      const transport = connection.connection.transport.constructor.name;
      await connection.stop();
      return { status: me.status, user, rooms: Array.isArray(rooms), transport };
    })(${JSON.stringify(pair.chatUrl)})`)) as {
      status: number;
      user: { displayName: string; role: string };
      rooms: boolean;
      transport: string;
    };
    assert.equal(result.status, 200);
    assert.deepEqual(result.user.displayName, 'Bob Okafor');
    assert.equal(result.user.role, 'user');
    assert.equal(result.rooms, true);
    assert.equal(result.transport, 'WebSocketTransport');

    // Another origin (the chat's) cannot read the token, cookies or not.
    await page.goto(`${pair.chatUrl}/healthz`);
    const stolen =
      await page.evaluate(`fetch(${JSON.stringify(`${pair.hostUrl}/chat-token`)}, { credentials: 'include' })
      .then((r) => r.text()).then((t) => 'read: ' + t.slice(0, 20), (e) => 'refused: ' + e.name)`);
    assert.equal(stolen, 'refused: TypeError');
  } finally {
    await context.close();
  }
});

test('the widget embedded by the host pages: support as the signed-in user, and the project room in inbox mode', {
  skip,
}, async () => {
  const context = await browser!.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${pair.hostUrl}/signin?next=/support`);
    await page.getByTestId('signin-username').fill('alice');
    await page.getByTestId('signin-password').fill(PASSWORD);
    await page.getByTestId('signin-submit').click();
    await page.waitForURL(`${pair.hostUrl}/support`);

    // Support mode: the launcher opens the panel; Alice writes as herself (no name asked).
    await page.getByTestId('widget-launcher').click();
    const frame = page.frameLocator('iframe[name="switchboard-widget"]');
    await frame.getByTestId('support-text').fill('hsta alice: the export button is gone');
    assert.equal(await frame.getByTestId('guest-name').count(), 0);
    await frame.getByTestId('support-submit').click();
    await frame.getByTestId('message-text').filter({ hasText: 'the export button is gone' }).waitFor({
      timeout: 30_000,
    });
    // The host app's backend sees the request through the server API, under Alice's name.
    const requests = await fetch(`${pair.chatUrl}/api/v1/support/requests`, {
      headers: { Authorization: `Bearer ${pair.apiKey}` },
    });
    assert.equal(requests.status, 200);
    assert.match(JSON.stringify(await requests.json()), /Alice/);

    // The project's room, made through the server API by the host's backend, in inbox mode.
    const made = await page.evaluate(async () => {
      const response = await fetch('/projects/apollo/chat', {
        method: 'POST',
        headers: { Accept: 'application/json' },
      });
      return { status: response.status, body: await response.json() };
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await page.goto(`${pair.hostUrl}/inbox`);
    const inbox = page.frameLocator('#chat iframe[name="switchboard-widget"]');
    await inbox.getByTestId('room-item').first().waitFor({ timeout: 30_000 });
    assert.ok((await inbox.getByTestId('room-item').count()) >= 1);
  } finally {
    await context.close();
  }
});
