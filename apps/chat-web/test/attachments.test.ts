/**
 * Files in Chromium: Alice attaches an image and a PDF with the picker and a caption; Bob sees the
 * image as a thumbnail (it opens full size) and the PDF as a card that downloads under its name;
 * Carol, not in the room, is refused the very URLs. The accessibility scan passes on the room with
 * files and on the full-size view.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import { axeViolations, browserSuite, createRoom, hubAs, signUp, waitConnected } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** A 2×2 red PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEUlEQVR4nGP4z8DwnwGMgRQAH+4D/dJQfRoAAAAASUVORK5CYII=',
  'base64',
);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');

async function roomIdOf(page: Page, name: string): Promise<string> {
  const id = await page.getByTestId('room-item').filter({ hasText: name }).getAttribute('data-room-id');
  assert.ok(id, `room ${name} in the list`);
  return id;
}

/** GETs a URL from the page with its own session's token (or none); answers the status. */
function fetchAs(page: Page, url: string, withToken: boolean): Promise<number> {
  return page.evaluate(
    async ({ url, withToken }) => {
      const session = JSON.parse(localStorage.getItem('switchboard.session') ?? '{}') as { token?: string };
      const headers: Record<string, string> = withToken ? { Authorization: `Bearer ${session.token}` } : {};
      return (await fetch(url, { headers })).status;
    },
    { url, withToken },
  );
}

describe('chat-web: attachments', () => {
  const suite = browserSuite();

  test('an image and a PDF: uploaded, shown and downloaded by the other member, refused to a non-member', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    await signUp(alice.page, suite.server.url, 'Alice');
    const name = `Files ${process.pid}`;
    await createRoom(alice.page, name);
    const roomId = await roomIdOf(alice.page, name);
    const bob = await suite.page();
    const bobName = await signUp(bob.page, suite.server.url, 'Bob');
    const { hub } = await hubAs(suite.server.url, bobName);
    await hub.invoke('joinRoom', roomId);
    await hub.stop();
    await bob.page.getByTestId('room-item').filter({ hasText: name }).click();

    // The picker takes several files; each shows in the tray until sent with the caption.
    await alice.page.getByTestId('attach-input').setInputFiles([
      { name: 'red.png', mimeType: 'image/png', buffer: PNG },
      { name: 'report.pdf', mimeType: 'application/pdf', buffer: PDF },
    ]);
    await alice.page.locator('[data-testid="upload"]', { hasText: 'red.png' }).waitFor();
    await alice.page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid="upload"]').length === 2 &&
        document.querySelectorAll('[data-testid="upload"] progress').length === 0,
    );
    await alice.page.getByTestId('message-input').fill('two files');
    await alice.page.getByTestId('message-send').click();

    // Bob: the image inline (decoded, scaled to a thumbnail), the PDF as a card.
    const message = bob.page.getByTestId('message-item').filter({ hasText: 'two files' });
    await message.waitFor();
    const files = message.getByTestId('attachment');
    await files.nth(1).waitFor();
    assert.equal(await files.count(), 2);
    const img = files.nth(0).locator('img');
    await bob.page.waitForFunction(
      (el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth === 2,
      await img.elementHandle(),
    );
    const card = files.nth(1);
    assert.match((await card.textContent()) ?? '', /report\.pdf/);
    assert.match((await card.textContent()) ?? '', /application\/pdf/);
    const link = card.locator('a[download]');
    assert.equal(await link.getAttribute('download'), 'report.pdf');
    const [download] = await Promise.all([bob.page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'report.pdf');
    assert.deepEqual(readFileSync((await download.path())!), PDF);
    assert.deepEqual(await axeViolations(bob.page), []);

    // The original opens full size.
    await img.click();
    const viewer = bob.page.getByTestId('attachment-viewer');
    await viewer.waitFor();
    await bob.page.waitForFunction(() => {
      const full = document.querySelector<HTMLImageElement>('[data-testid="attachment-full"]');
      return full?.complete && full.naturalWidth === 2;
    });
    assert.deepEqual(await axeViolations(bob.page), []);
    await bob.page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });

    // Carol is not in the room: the URLs are refused, with her token or without one.
    const urls = await message
      .getByTestId('attachment')
      .evaluateAll((els) => els.map((el) => `/api/attachments/${el.getAttribute('data-attachment-id')}`));
    const carol = await suite.page();
    await signUp(carol.page, suite.server.url, 'Carol');
    await waitConnected(carol.page);
    for (const url of urls) {
      assert.equal(await fetchAs(carol.page, url, true), 403);
      assert.equal(await fetchAs(carol.page, url, false), 401);
      assert.equal(await fetchAs(bob.page, url, true), 200);
    }
    // The refusals above are expected, not errors of the app.
    carol.errors.length = 0;
  });
});
