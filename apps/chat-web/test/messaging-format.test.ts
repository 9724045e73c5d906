/**
 * Formatting in Chromium: hostile markdown renders safely (no script runs, no `javascript:` link,
 * raw HTML stays text, nesting bombs leave the page responsive); what people type in chats is
 * formatted; edits re-render; the full time; a phone's full-screen thread; the accessibility scan.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import { axeViolations, browserSuite, createRoom, hubAs, readAttached, send, signUp } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** The message item whose text contains `text`. */
const item = (page: Page, text: string) =>
  page
    .getByTestId('message-list')
    .getByTestId('message-item')
    .filter({ has: page.getByTestId('message-text').filter({ hasText: text }) });

describe('chat-web: formatting', () => {
  // Long enough for the nesting bombs of 10,000 characters.
  const suite = browserSuite({ env: { MAX_MESSAGE_LENGTH: '40000' } });

  test('hostile markdown renders safely and the page stays responsive; formatting as typed in chats', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page({
      init: () => {
        (window as unknown as { __ran: string[] }).__ran = [];
      },
    });
    const name = await signUp(alice.page, suite.server.url, 'Alice');
    const room = `format-${process.pid}`;
    await createRoom(alice.page, room);
    const { hub } = await hubAs(suite.server.url, name);
    const [summary] = (await hub.invoke('listRooms')).filter((r: { name: string }) => r.name === room);
    const post = (text: string) =>
      hub.invoke('sendMessage', { roomId: summary.id, text, clientMessageId: crypto.randomUUID() });
    const hostile = [
      '[x](javascript:alert(1))',
      '<img src=x onerror=alert(1)>',
      '[y](JaVaScRiPt:window.__ran.push(1)) <a href="javascript:alert(2)">raw</a>',
      '<script>window.__ran.push(2)</script> <svg onload=alert(3)>',
      '[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [v](vbscript:msgbox)',
      '>'.repeat(10_000),
      '*'.repeat(10_000),
      `${'['.repeat(5_000)}x${'](y)'.repeat(5_000)}`,
      `${'- '.repeat(5_000)}deep`,
    ];
    for (const text of hostile) await post(text);
    await post(
      '**bold** _italic_ ~~strike~~ `code` https://example.com/path [docs](https://example.org) [mail](mailto:a@example.com)\n> quoted\n\n- one\n- two\n\n1. first\n2. second',
    );
    await post(`\`\`\`\nconst long = "${'x'.repeat(400)}";\n\`\`\``);
    const p = alice.page;
    await item(p, 'const long').waitFor();
    // Responsive: the page answers and the composer still sends.
    assert.equal(await p.evaluate(() => 1 + 1), 2);
    await send(p, 'still here');
    await item(p, 'still here').waitFor();

    const facts = await p.evaluate(() => {
      const list = document.querySelector('[data-testid="message-list"]')!;
      return {
        ran: (window as unknown as { __ran: string[] }).__ran,
        scripts: list.querySelectorAll('script, img, svg, iframe, object, embed, style').length,
        badLinks: Array.from(list.querySelectorAll('a')).filter(
          (a) => a.hasAttribute('href') && !/^(https?:|mailto:)/i.test(a.getAttribute('href')!),
        ).length,
        handlers: Array.from(list.querySelectorAll('*')).filter((e) =>
          Array.from(e.attributes).some((a) => a.name.startsWith('on')),
        ).length,
        bodiesOutsideText: Array.from(list.querySelectorAll('[data-testid="message-body"]')).filter(
          (b) => !b.parentElement?.matches('[data-testid="message-text"]'),
        ).length,
      };
    });
    assert.deepEqual(facts, { ran: [], scripts: 0, badLinks: 0, handlers: 0, bodiesOutsideText: 0 });
    assert.deepEqual(alice.dialogs, [], 'no alert ran');
    // Raw HTML stays text.
    await item(p, '<img src=x onerror=alert(1)>').waitFor();

    const formatted = item(p, 'bold').getByTestId('message-body');
    assert.equal(await formatted.locator('strong').textContent(), 'bold');
    assert.equal(await formatted.locator('em').textContent(), 'italic');
    assert.equal(await formatted.locator('s').textContent(), 'strike');
    assert.equal(await formatted.locator('code').textContent(), 'code');
    assert.equal((await formatted.locator('blockquote').textContent())?.trim(), 'quoted');
    assert.equal(await formatted.locator('ul li').count(), 2);
    assert.equal(await formatted.locator('ol li').count(), 2);
    const links = await formatted
      .locator('a')
      .evaluateAll((as) =>
        as.map((a) => [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('target')]),
      );
    assert.deepEqual(links, [
      ['https://example.com/path', 'noopener noreferrer', '_blank'],
      ['https://example.org', 'noopener noreferrer', '_blank'],
      ['mailto:a@example.com', 'noopener noreferrer', '_blank'],
    ]);
    const code = item(p, 'const long').locator('pre');
    const style = await readAttached(code, (e) => {
      if (!e.isConnected) return null;
      const s = getComputedStyle(e);
      return {
        overflowX: s.overflowX,
        mono: /mono|courier|consol/i.test(s.fontFamily),
        wide: e.scrollWidth > e.clientWidth,
      };
    });
    assert.deepEqual(style, { overflowX: 'auto', mono: true, wide: true });
    // Edits re-render.
    const edited = await post('plain at first');
    await item(p, 'plain at first').waitFor();
    await hub.invoke('editMessage', { messageId: edited.id, text: 'now **strong**' });
    await item(p, 'now strong').locator('strong').waitFor();
    // The full date and time on the message's time.
    const title = await item(p, 'now strong').locator('time').getAttribute('title');
    assert.match(title ?? '', /\d{4}/);
    const full = item(p, 'now strong').locator('.time-full');
    assert.equal(await full.isVisible(), false);
    await item(p, 'now strong').getByRole('toolbar').getByRole('button').first().focus();
    await full.waitFor({ state: 'visible' });
    assert.equal(await full.textContent(), title, 'the full date and time while the message has the focus');
    assert.equal(await p.getByTestId('date-separator').count(), 1);
    assert.deepEqual(await axeViolations(p), []);
    await hub.stop();
  });

  test('a phone shows the thread full screen', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const phone = await suite.page({ viewport: { width: 390, height: 800 }, hasTouch: true });
    await signUp(phone.page, suite.server.url, 'Pat');
    await createRoom(phone.page, `phone-${process.pid}`);
    const p = phone.page;
    await send(p, 'parent');
    await item(p, 'parent').waitFor();
    await item(p, 'parent').click();
    await item(p, 'parent').getByTestId('message-reply').click();
    await send(p, 'child');
    await item(p, 'parent').getByTestId('thread-open').click();
    const box = await p.getByTestId('thread-panel').boundingBox();
    assert.ok(box && box.width === 390 && box.height === 800, `full screen: ${JSON.stringify(box)}`);
    assert.deepEqual(await axeViolations(p), []);
  });
});
