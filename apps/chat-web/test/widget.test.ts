/**
 * The widget (issue #15) in Chromium on a page of another origin: a guest and a host app's user
 * (HS256 token from the host page's `/chat-token`) write to support and an agent in the chat app
 * answers; unread count and title badge; inbox mode with `data-target` and `data-room`; hostile
 * global CSS on the host page; a chat server restart; what it loads before its first message (at
 * most 60 KiB gzipped); its navigation in memory; `Switchboard.destroy()`; axe at 375 px; the
 * frame's CSP and the script's headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { HubConnection } from '@microsoft/signalr';
import type { Page } from 'playwright-core';
import { axeViolations, browserSuite, hubAs, readAttached, send, signIn, signUp } from './helpers.ts';
import {
  HOST_ISSUER,
  HOST_SECRET,
  type HostServer,
  hostPage,
  hostToken,
  startHostServer,
  widgetFrame,
  widgetFrameHandle,
} from './widget-helpers.ts';

const env: Record<string, string> = { AUTH_ISSUER: HOST_ISSUER, AUTH_HS256_SECRET: HOST_SECRET };
let host: HostServer;
// Runs before the suite's own hook: the chat server must list the host page's origin.
before(async () => {
  host = await startHostServer();
  env.ALLOWED_ORIGINS = host.origin;
});
after(() => host?.close());

describe('the widget on a page of another origin', () => {
  const suite = browserSuite({ env });
  const tag = (attrs: string) => `<script src="${suite.server.url}/widget.js" ${attrs} async></script>`;

  let agent: Page | undefined;
  /** An agent signed in to the chat app with the support queue open. */
  async function agentPage(): Promise<Page> {
    if (agent) return agent;
    const p = (await suite.page()).page;
    const username = await signUp(p, suite.server.url, 'Wdgh Ada');
    await suite.server.makeAgent(username);
    await p.getByTestId('logout').click();
    await signIn(p, suite.server.url, username);
    await p.getByTestId('support-queue-link').click();
    agent = p;
    return p;
  }
  /** The agent claims the customer's request, opens it and answers. */
  async function agentAnswers(customer: string, subject: string, answer: string): Promise<void> {
    const p = await agentPage();
    await p.getByTestId('support-queue-link').click();
    const item = p.getByTestId('queue-item').filter({ hasText: subject });
    await item.waitFor({ timeout: 20_000 });
    assert.match((await item.getByTestId('queue-customer').textContent()) ?? '', new RegExp(customer));
    await item.getByTestId('queue-claim').click();
    await item.getByTestId('queue-open').click();
    await p.getByTestId('message-text').filter({ hasText: subject }).first().waitFor();
    await send(p, answer);
  }

  test('a guest writes to support, an agent answers; unread count and title badge while closed; address and history untouched', async () => {
    host.pages.set('/wdgh-guest', hostPage(tag('data-mode="support"')));
    const { page } = await suite.page();
    // Counts the sounds the page plays (Web Audio contexts made).
    await page
      .context()
      .addInitScript(
        'window.wdghSounds = 0; const Real = window.AudioContext; window.AudioContext = class extends Real { constructor(...a) { super(...a); window.wdghSounds += 1; } };',
      );
    await page.goto(`${host.origin}/wdgh-guest`);
    const href = page.url();
    const historyLength = await page.evaluate(() => history.length);
    await page.getByTestId('widget-launcher').click();
    const frame = widgetFrame(page);
    await frame.getByTestId('guest-name').fill('Wdgh Gwen');
    await frame.getByTestId('support-text').fill('wdgh guest: my parcel never came');
    await frame.getByTestId('support-submit').click();
    await frame.getByTestId('message-text').filter({ hasText: 'my parcel never came' }).waitFor();
    // Closed: the agent's answer counts on the launcher and in the title.
    await page.getByTestId('widget-launcher').click();
    await agentAnswers('Wdgh Gwen', 'wdgh guest: my parcel never came', 'wdgh agent: looking at it now');
    await page.getByTestId('widget-unread').filter({ hasText: '1' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.title(), '(1) Wdgh host');
    assert.equal(await page.evaluate('window.wdghSounds'), 1, 'one sound for the answer');
    await page.getByTestId('widget-launcher').click();
    await frame.getByTestId('message-text').filter({ hasText: 'looking at it now' }).waitFor();
    await frame.locator('[data-testid="support-status"][data-state="assigned"]').waitFor();
    await page.getByTestId('widget-unread').waitFor({ state: 'hidden' });
    assert.equal(await page.title(), 'Wdgh host');
    await frame.getByTestId('message-input').fill('wdgh guest: thanks');
    await frame.getByTestId('message-input').press('Enter');
    await frame.getByTestId('message-text').filter({ hasText: 'wdgh guest: thanks' }).waitFor();
    await agent!.getByTestId('message-text').filter({ hasText: 'wdgh guest: thanks' }).waitFor();
    // The whole conversation happened without touching the host page's address or history.
    assert.equal(page.url(), href);
    assert.equal(await page.evaluate(() => history.length), historyLength);
    // Escape closes the panel and gives the focus back to the launcher.
    await frame.getByTestId('message-input').press('Escape');
    await page.waitForFunction(() => {
      const root = document.querySelector('[data-switchboard-widget]')?.shadowRoot;
      return root?.activeElement?.getAttribute('data-testid') === 'widget-launcher';
    });
  });

  test('a host app user (token from data-token-url) writes to support as themself; the agent answers', async () => {
    host.pages.set('/wdgh-user', hostPage(tag('data-mode="support" data-token-url="/chat-token"')));
    const context = (await suite.page()).page.context();
    await context.addCookies([{ name: 'wdgh_user', value: 'hana', url: host.origin }]);
    const page = await context.newPage();
    await page.goto(`${host.origin}/wdgh-user`);
    await page.getByTestId('widget-launcher').click();
    const frame = widgetFrame(page);
    await frame.getByTestId('support-text').fill('wdgh hana: invoice 42 is wrong');
    // Signed in: no name to give.
    assert.equal(await frame.getByTestId('guest-name').count(), 0);
    await frame.getByTestId('support-submit').click();
    await frame.getByTestId('message-text').filter({ hasText: 'invoice 42 is wrong' }).waitFor();
    await agentAnswers('Wdgh hana', 'wdgh hana: invoice 42 is wrong', 'wdgh agent: fixed, Hana');
    await frame.getByTestId('message-text').filter({ hasText: 'fixed, Hana' }).waitFor({ timeout: 20_000 });
    // The agent closes the request; the next message opens it again (it is back in the queue).
    await agent!.getByTestId('conversation-close').click();
    await frame.locator('[data-testid="support-status"][data-state="closed"]').waitFor({ timeout: 20_000 });
    await frame.getByTestId('message-input').fill('wdgh hana: one more thing');
    await frame.getByTestId('message-send').click();
    await frame.locator('[data-testid="support-status"][data-state="waiting"]').waitFor({ timeout: 20_000 });
    await agent!.getByTestId('support-queue-link').click();
    await agent!.getByTestId('queue-item').filter({ hasText: 'one more thing' }).waitFor({ timeout: 20_000 });
    assert.ok(host.tokens >= 1, 'the token came from the host page');
  });

  test('the token is fetched again from data-token-url before it expires, and the widget goes on working', async () => {
    host.pages.set('/wdgh-refresh', hostPage(tag('data-mode="support" data-token-url="/chat-token"')));
    const context = (await suite.page()).page.context();
    // 66 s tokens: asked again a minute before expiry, i.e. after about 6 s.
    await context.addCookies([
      { name: 'wdgh_user', value: 'remy', url: host.origin },
      { name: 'wdgh_ttl', value: '66', url: host.origin },
    ]);
    const page = await context.newPage();
    const before = host.tokens;
    await page.goto(`${host.origin}/wdgh-refresh`);
    await page.getByTestId('widget-launcher').click();
    const frame = widgetFrame(page);
    await frame.getByTestId('support-text').fill('wdgh remy: first');
    await frame.getByTestId('support-submit').click();
    await frame.getByTestId('message-text').filter({ hasText: 'wdgh remy: first' }).waitFor();
    const deadline = Date.now() + 30_000;
    while (host.tokens < before + 2 && Date.now() < deadline) await page.waitForTimeout(200);
    assert.ok(host.tokens >= before + 2, `tokens fetched: ${host.tokens - before}`);
    await frame.getByTestId('message-input').fill('wdgh remy: after the new token');
    await frame.getByTestId('message-send').click();
    await frame
      .locator('[data-testid="message-item"]:not(.pending)')
      .filter({ hasText: 'after the new token' })
      .waitFor();
  });

  test('inbox mode: rooms and direct messages in data-target; data-room opens one conversation', async () => {
    const token = await hostToken('ivy', 'Wdgh Ivy');
    const me = (await (
      await fetch(`${suite.server.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } })
    ).json()) as { user: { id: string } };
    const bobPage = (await suite.page()).page;
    const bobName = await signUp(bobPage, suite.server.url, 'Wdgh Bob');
    const { hub } = await hubAs(suite.server.url, bobName);
    const room = await hub.invoke<{ id: string }>('createRoom', {
      name: `wdgh-team-${process.pid}`,
      isPrivate: true,
    });
    await hub.invoke('inviteToRoom', room.id, me.user.id);
    const direct = await hub.invoke<{ id: string }>('openDirect', [me.user.id]);
    const say = (roomId: string, text: string) =>
      hub.invoke('sendMessage', { roomId, text, clientMessageId: crypto.randomUUID() });
    await say(room.id, 'wdgh bob in the team room');
    await say(direct.id, 'wdgh bob directly to ivy');
    host.pages.set(
      '/wdgh-inbox',
      hostPage(
        `<section id="wdgh-inbox" style="height:520px"></section>${tag('data-mode="inbox" data-target="#wdgh-inbox" data-token-url="/chat-token"')}`,
      ),
    );
    const context = (await suite.page()).page.context();
    await context.addCookies([{ name: 'wdgh_user', value: 'ivy', url: host.origin }]);
    const page = await context.newPage();
    await page.goto(`${host.origin}/wdgh-inbox`);
    const historyLength = await page.evaluate(() => history.length);
    assert.equal(await page.locator('#wdgh-inbox iframe[name="switchboard-widget"]').count(), 1);
    const frame = widgetFrame(page);
    await frame.getByTestId('room-item').nth(1).waitFor({ timeout: 20_000 });
    assert.equal(await frame.getByTestId('room-item').count(), 2);
    await frame.getByTestId('room-item').filter({ hasText: 'Wdgh Bob' }).click();
    await frame.getByTestId('message-text').filter({ hasText: 'directly to ivy' }).waitFor();
    await frame.getByTestId('message-input').fill('wdgh ivy answers bob');
    await frame.getByTestId('message-send').click();
    await waitForMessage(hub, direct.id, 'wdgh ivy answers bob');
    await frame.getByTestId('widget-back').click();
    await frame.getByTestId('room-item').filter({ hasText: 'wdgh-team' }).click();
    await frame.getByTestId('message-text').filter({ hasText: 'in the team room' }).waitFor();
    // A new message arrives live.
    await say(room.id, 'wdgh bob again');
    await frame.getByTestId('message-text').filter({ hasText: 'wdgh bob again' }).waitFor();
    assert.equal(await page.evaluate(() => history.length), historyLength);

    host.pages.set(
      '/wdgh-one-room',
      hostPage(
        `<div id="wdgh-one"></div>${tag(`data-mode="inbox" data-target="#wdgh-one" data-room="${room.id}" data-token-url="/chat-token"`)}`,
      ),
    );
    await page.goto(`${host.origin}/wdgh-one-room`);
    await frame
      .getByTestId('message-text')
      .filter({ hasText: 'wdgh bob again' })
      .waitFor({ timeout: 20_000 });
    assert.equal(await frame.getByTestId('room-list').count(), 0);
    assert.equal(await frame.getByTestId('widget-back').count(), 0);
    await hub.stop();
  });

  test('hostile global CSS on the host page: the widget works and its styles stay out of the page', async () => {
    const hostile =
      '<style>* { display:block !important; color: red !important; font-size: 40px !important }</style>';
    host.pages.set('/wdgh-hostile', hostPage('', hostile));
    const { page } = await suite.page();
    await page.goto(`${host.origin}/wdgh-hostile`);
    const styleOf = () =>
      page.evaluate(() =>
        ['#host-title', '#host-p', 'main', 'body'].map((s) => {
          const c = getComputedStyle(document.querySelector(s)!);
          return [
            c.color,
            c.fontSize,
            c.fontFamily,
            c.display,
            c.backgroundColor,
            c.margin,
            c.lineHeight,
          ].join('|');
        }),
      );
    const before = await styleOf();
    await page.evaluate((src) => {
      const script = document.createElement('script');
      script.src = src;
      script.dataset.mode = 'support';
      document.body.append(script);
    }, `${suite.server.url}/widget.js`);
    const launcher = page.getByTestId('widget-launcher');
    await launcher.waitFor();
    assert.deepEqual(await styleOf(), before, "the widget's styles do not reach the host's elements");
    const box = await launcher.boundingBox();
    assert.ok(
      box && Math.round(box.width) === 56 && Math.round(box.height) === 56,
      `launcher ${JSON.stringify(box)}`,
    );
    await launcher.click();
    const frame = widgetFrame(page);
    await frame.getByTestId('guest-name').fill('Wdgh Hostile');
    await frame.getByTestId('support-text').fill('wdgh hostile page still works');
    await frame.getByTestId('support-submit').click();
    const text = frame.getByTestId('message-text').filter({ hasText: 'still works' });
    await text.waitFor();
    const inside = await readAttached(text, (e) =>
      e.isConnected ? [getComputedStyle(e).fontSize, getComputedStyle(e).color] : null,
    );
    assert.notEqual(inside[0], '40px');
    assert.notEqual(inside[1], 'rgb(255, 0, 0)');
    const panel = await page.locator('iframe[name="switchboard-widget"]').boundingBox();
    assert.ok(panel && panel.width > 200 && panel.height > 200, `panel ${JSON.stringify(panel)}`);
  });

  test('a chat server restart: the widget reconnects, and messages flow both ways again', async () => {
    host.pages.set('/wdgh-restart', hostPage(tag('data-mode="support"')));
    const { page } = await suite.page();
    await page.goto(`${host.origin}/wdgh-restart`);
    await page.getByTestId('widget-launcher').click();
    const frame = widgetFrame(page);
    await frame.getByTestId('guest-name').fill('Wdgh Rex');
    await frame.getByTestId('support-text').fill('wdgh rex before the restart');
    await frame.getByTestId('support-submit').click();
    await frame.getByTestId('message-text').filter({ hasText: 'before the restart' }).waitFor();
    await agentPage();
    const agentName = await agent!.evaluate(
      () =>
        (JSON.parse(localStorage.getItem('switchboard.session') ?? '{}') as { user?: { username?: string } })
          .user?.username,
    );
    assert.ok(agentName);
    // The widget loads its markdown module 3 s after its first message; let that load finish first,
    // or its request can meet the stopped server (a failed load the page logs as a console error).
    const handle = await widgetFrameHandle(page);
    await handle.waitForFunction(
      () => performance.getEntriesByType('resource').some((e) => e.name.includes('/assets/markdown-')),
      undefined,
      { timeout: 30_000 },
    );
    await suite.server.restart();
    await frame.getByTestId('widget-connection').waitFor({ state: 'hidden', timeout: 30_000 });
    const { hub } = await hubAs(suite.server.url, agentName);
    const queue =
      await hub.invoke<{ id: string; roomId: string; customerName?: string; subject: string }[]>(
        'listSupportQueue',
      );
    const request = queue.find((r) => r.subject.includes('before the restart'));
    assert.ok(request, 'the request is in the queue');
    await hub.invoke('claimSupportRequest', request.id);
    await hub.invoke('sendMessage', {
      roomId: request.roomId,
      text: 'wdgh agent after the restart',
      clientMessageId: crypto.randomUUID(),
    });
    await frame
      .getByTestId('message-text')
      .filter({ hasText: 'agent after the restart' })
      .waitFor({ timeout: 30_000 });
    await frame.getByTestId('message-input').fill('wdgh rex after the restart');
    await frame.getByTestId('message-send').click();
    await waitForMessage(hub, request.roomId, 'wdgh rex after the restart');
    await hub.stop();
  });

  test('until its first message is sent the widget loads at most 60 KiB gzipped from the chat server', async () => {
    host.pages.set('/wdgh-size', hostPage(tag('data-mode="support"')));
    const { page } = await suite.page();
    const chatOrigin = new URL(suite.server.url).origin;
    const loads: Promise<{ url: string; gzip: number }>[] = [];
    let counting = true;
    page.on('requestfinished', (request) => {
      if (!counting || new URL(request.url()).origin !== chatOrigin) return;
      loads.push(
        request.response().then(async (response) => {
          const body = response ? await response.body().catch(() => Buffer.alloc(0)) : Buffer.alloc(0);
          return { url: new URL(request.url()).pathname, gzip: gzipSync(body, { level: 9 }).length };
        }),
      );
    });
    await page.goto(`${host.origin}/wdgh-size`);
    await page.getByTestId('widget-launcher').click();
    const frame = widgetFrame(page);
    await frame.getByTestId('guest-name').fill('Wdgh Sam');
    await frame.getByTestId('support-text').fill('wdgh size: **first** message');
    await frame.getByTestId('support-submit').click();
    await frame.getByTestId('message-text').filter({ hasText: 'first' }).waitFor();
    counting = false;
    // Markdown came lazily, after the first message: the text was plain, and is rendered now.
    await frame
      .locator('[data-testid="message-text"] strong')
      .filter({ hasText: 'first' })
      .waitFor({ timeout: 30_000 });
    const all = await Promise.all(loads);
    const total = all.reduce((sum, l) => sum + l.gzip, 0);
    assert.ok(
      all.some((l) => l.url === '/widget.js') && all.some((l) => l.url === '/widget.html'),
      JSON.stringify(all),
    );
    assert.ok(
      all.some((l) => l.url.endsWith('/negotiate')),
      'the hub was reached',
    );
    assert.ok(total <= 60 * 1024, `the widget loaded ${total} bytes gzipped: ${JSON.stringify(all)}`);
    console.log(`wdgh: the widget loaded ${(total / 1024).toFixed(1)} KiB gzipped until its first message`);
    // The build measured the same and wrote it down.
    const report = (await (await fetch(`${suite.server.url}/widget-size.json`)).json()) as {
      gzipBytes: number;
    };
    assert.ok(report.gzipBytes > 10_000 && report.gzipBytes <= 60 * 1024, `build report ${report.gzipBytes}`);
  });

  test('two tags on one page (support and inbox); Switchboard.destroy removes everything; init adds it again', async () => {
    host.pages.set(
      '/wdgh-api',
      hostPage(
        `<div id="wdgh-box"></div>${tag('data-mode="support"')}${tag('data-mode="inbox" data-target="#wdgh-box"')}`,
      ),
    );
    const { page } = await suite.page();
    await page.goto(`${host.origin}/wdgh-api`);
    await page.getByTestId('widget-launcher').click();
    await page.locator('#wdgh-box iframe[name="switchboard-widget"]').waitFor();
    assert.equal(await page.locator('iframe[name="switchboard-widget"]').count(), 2);
    // No global of the widget's but Switchboard (its minified names stay inside its function).
    const globals = await page.evaluate(
      "Object.keys(window).filter((k) => ['e', 't', 'n', 'r', 'i', 'a', 'o', 's', 'Switchboard'].includes(k))",
    );
    assert.deepEqual(globals, ['Switchboard']);
    await page.evaluate(() =>
      (window as unknown as { Switchboard: { destroy(): void } }).Switchboard.destroy(),
    );
    const left = await page.evaluate(() => ({
      hosts: document.querySelectorAll('[data-switchboard-widget]').length,
      frames: document.querySelectorAll('iframe').length,
      title: document.title,
    }));
    assert.deepEqual(left, { hosts: 0, frames: 0, title: 'Wdgh host' });
    assert.equal(page.frames().length, 1);
    await page.evaluate("window.Switchboard.init({ mode: 'support', token: async () => null })");
    await page.getByTestId('widget-launcher').click();
    await widgetFrame(page).getByTestId('support-text').waitFor();
  });

  test('at 375 px: the panel fits, axe finds nothing in the frame nor on the host page', async () => {
    host.pages.set('/wdgh-axe', hostPage(tag('data-mode="support"')));
    const { page } = await suite.page({ viewport: { width: 375, height: 667 } });
    await page.goto(`${host.origin}/wdgh-axe`);
    const frame = widgetFrame(page);
    const handle = await widgetFrameHandle(page);
    // Keyboard only: Tab to the launcher, Enter opens the panel with the focus in its first field.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() =>
        document
          .querySelector('[data-switchboard-widget]')
          ?.shadowRoot?.activeElement?.getAttribute('data-testid'),
      );
      if (focused === 'widget-launcher') break;
    }
    await page.keyboard.press('Enter');
    await frame.getByTestId('support-text').waitFor();
    await handle.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'guest-name');
    assert.deepEqual(await axeViolations(handle as unknown as Page), []);
    await page.keyboard.type('Wdgh Axel');
    await page.keyboard.press('Tab');
    await page.keyboard.type('wdgh axe: a question');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await frame.getByTestId('message-text').filter({ hasText: 'a question' }).waitFor();
    assert.deepEqual(await axeViolations(handle as unknown as Page), []);
    assert.equal(
      await handle.evaluate(
        () => document.documentElement.scrollWidth > document.documentElement.clientWidth,
      ),
      false,
    );
    const box = await page.locator('iframe[name="switchboard-widget"]').boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `panel ${JSON.stringify(box)}`);
    assert.deepEqual(await axeViolations(page), []);
    // Keyboard: Tab from the message box reaches the send button.
    await frame.getByTestId('message-input').focus();
    await page.keyboard.press('Tab');
    assert.equal(
      await handle.evaluate(() => document.activeElement?.getAttribute('data-testid')),
      'message-send',
    );
  });

  test("the frame's CSP lets ALLOWED_ORIGINS frame it; widget.js has CORS and cache headers", async () => {
    const frame = await fetch(`${suite.server.url}/widget.html`);
    const csp = frame.headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`frame-ancestors 'self' ${host.origin.replace(/[.:/]/g, '\\$&')}`));
    assert.equal(frame.headers.get('x-frame-options'), null);
    const app = await fetch(`${suite.server.url}/`);
    assert.match(app.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const script = await fetch(`${suite.server.url}/widget.js`, {
      headers: { Origin: 'https://wdgh-other.example' },
    });
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.equal(script.headers.get('access-control-allow-origin'), '*');
    assert.match(script.headers.get('cache-control') ?? '', /max-age=\d+/);
    assert.doesNotMatch(script.headers.get('cache-control') ?? '', /immutable/);
  });
});

async function waitForMessage(hub: HubConnection, roomId: string, text: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const page = await hub.invoke<{ messages: { text: string }[] }>('getMessages', { roomId });
    if (page.messages.some((m) => m.text === text)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`no message "${text}" in ${roomId}`);
}
