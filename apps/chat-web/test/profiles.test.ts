/**
 * Profiles in Chromium: Alice sets a photo (cropped square in the browser) and a new display name
 * in her account settings, and Bob, who has the room open, sees both on her message at once; Bob
 * opens her profile card from her name (name, username, presence) and its "Message" button opens
 * their direct conversation; the members list shows her presence and follows her "away" live;
 * she changes her password and stays signed in; "sign out everywhere" signs out her other browser
 * too. The new views pass the accessibility scan
 * in the light and the dark theme.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import {
  answerConfirm,
  axeViolations,
  browserSuite,
  createRoom,
  hubAs,
  send,
  signUp,
  waitConnected,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** A 300 × 200 PNG drawn in the page (a real image the browser can decode and crop). */
async function photo(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 300;
    canvas.height = 200;
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#2b6cb0';
    context.fillRect(0, 0, 300, 200);
    context.fillStyle = '#f6e05e';
    context.fillRect(100, 50, 100, 100);
    return canvas.toDataURL('image/png').split(',')[1]!;
  });
  return Buffer.from(base64, 'base64');
}

/** Scans the page in the light and the dark theme (the system's preference; no choice kept). */
async function scanBothThemes(page: Page, what: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    assert.deepEqual(await axeViolations(page), [], `${what} in the ${colorScheme} theme`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

describe('chat-web: profiles', () => {
  const suite = browserSuite({ checkErrors: false });

  test('photo and name reach the other member live; profile card; members presence; sign out everywhere', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    const aliceName = await signUp(alice.page, suite.server.url, 'Alice');
    const room = `People ${process.pid}`;
    await createRoom(alice.page, room);
    const roomId = await alice.page
      .getByTestId('room-item')
      .filter({ hasText: room })
      .getAttribute('data-room-id');
    const bob = await suite.page();
    const bobName = await signUp(bob.page, suite.server.url, 'Bob');
    const { hub } = await hubAs(suite.server.url, bobName);
    await hub.invoke('joinRoom', roomId);
    await hub.stop();
    await bob.page.getByTestId('room-item').filter({ hasText: room }).click();
    await bob.page.getByTestId('room-title').filter({ hasText: room }).waitFor();
    await send(alice.page, 'hello from alice');
    const aliceMessage = bob.page.getByTestId('message-item').filter({ hasText: 'hello from alice' });
    await aliceMessage.waitFor();
    const aliceId = await aliceMessage.getByTestId('avatar').getAttribute('data-avatar-user');
    assert.ok(aliceId);
    // Without a photo: initials on a colour of her own.
    assert.equal(await aliceMessage.getByTestId('avatar').textContent(), 'A');
    assert.equal(await aliceMessage.getByTestId('avatar').locator('img').count(), 0);

    // Alice's settings: a photo (cropped square), a new name.
    await alice.page.getByTestId('account-settings-open').click();
    await alice.page.getByTestId('account-settings').waitFor();
    await scanBothThemes(alice.page, 'account settings');
    await alice.page
      .getByTestId('avatar-input')
      .setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await photo(alice.page) });
    await alice.page.getByTestId('account-status').filter({ hasText: 'Your photo was changed.' }).waitFor();
    await alice.page.getByTestId('profile-display-name').fill('Alice Cooper');
    await alice.page.getByTestId('profile-save').click();
    await alice.page
      .getByTestId('account-status')
      .filter({ hasText: 'Your display name was changed.' })
      .waitFor();
    // The photo the server keeps is a square.
    const size = await alice.page
      .getByTestId('account-settings')
      .getByTestId('avatar')
      .locator('img')
      .evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
    assert.deepEqual(size, [256, 256]);
    await alice.page.keyboard.press('Escape');
    await alice.page.getByTestId('me-name').filter({ hasText: 'Alice Cooper' }).waitFor();

    // Bob sees both on her message, live.
    await aliceMessage.getByTestId('avatar').locator('img').waitFor();
    await aliceMessage.locator('.sender').filter({ hasText: 'Alice Cooper' }).waitFor();

    // Her profile card, from her name.
    await aliceMessage.locator('.sender').click();
    const card = bob.page.getByTestId('profile-card');
    await card.waitFor();
    assert.equal(await card.getByTestId('profile-name').textContent(), 'Alice Cooper');
    assert.equal(await card.getByTestId('profile-username').textContent(), `@${aliceName}`);
    await card.getByTestId('profile-presence').filter({ hasText: 'Online' }).waitFor();
    await card.getByTestId('avatar').locator('img').waitFor();
    await scanBothThemes(bob.page, 'the profile card');
    await card.getByTestId('profile-message').click();
    await card.waitFor({ state: 'detached' });
    await bob.page.getByTestId('room-title').filter({ hasText: 'Alice Cooper' }).waitFor();
    // The direct conversation in the side list carries her photo.
    await bob.page
      .getByTestId('room-item')
      .filter({ hasText: 'Alice Cooper' })
      .locator(`[data-testid="avatar"][data-avatar-user="${aliceId}"] img`)
      .waitFor();

    // The members list shows presence, live.
    await bob.page.getByTestId('room-item').filter({ hasText: room }).click();
    await bob.page.getByTestId('room-members').click();
    const members = bob.page.getByTestId('members-list');
    const aliceRow = members.getByTestId('member-item').filter({ hasText: 'Alice Cooper' });
    await aliceRow.getByTestId('member-presence').filter({ hasText: 'Online' }).waitFor();
    await aliceRow.getByTestId('avatar').locator('img').waitFor();
    await scanBothThemes(bob.page, 'the members list');
    await alice.page.getByTestId('account-settings-open').click();
    await alice.page.getByTestId('away-toggle').check();
    await aliceRow.getByTestId('member-presence').filter({ hasText: 'Away' }).waitFor();
    await alice.page.getByTestId('away-toggle').uncheck();
    await aliceRow.getByTestId('member-presence').filter({ hasText: 'Online' }).waitFor();
    await bob.page.keyboard.press('Escape');

    // A new password: this tab stays signed in (it reconnects with the new token).
    await alice.page.getByTestId('password-current').fill('password123');
    await alice.page.getByTestId('password-new').fill('password456');
    await alice.page.getByTestId('password-save').click();
    await alice.page
      .getByTestId('account-status')
      .filter({ hasText: 'Your password was changed.' })
      .waitFor();
    await waitConnected(alice.page);
    await alice.page.getByTestId('account-settings').waitFor();

    // Sign out everywhere: her other browser (signed in with the new password) is signed out too;
    // Bob stays.
    const other = await suite.page();
    await other.page.goto(suite.server.url);
    await other.page.getByTestId('login-username').fill(aliceName);
    await other.page.getByTestId('login-password').fill('password456');
    await other.page.getByTestId('login-submit').click();
    await other.page.getByTestId('room-list').waitFor();
    await waitConnected(other.page);
    const otherToken = await other.page.evaluate(
      () => (JSON.parse(localStorage.getItem('switchboard.session')!) as { token: string }).token,
    );
    const meWith = async (token: string) =>
      (await fetch(`${suite.server.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } })).status;
    assert.equal(await meWith(otherToken), 200);
    await alice.page.getByTestId('sign-out-everywhere').click();
    await answerConfirm(alice.page, true);
    await alice.page.getByTestId('login-username').waitFor();
    await other.page.getByTestId('login-username').waitFor({ timeout: 30_000 });
    assert.equal(await meWith(otherToken), 401);
    assert.equal(await other.page.evaluate(() => localStorage.getItem('switchboard.session')), null);
    await bob.page.getByTestId('room-title').filter({ hasText: room }).waitFor();
    assert.equal(await bob.page.getByTestId('connection-banner').isHidden(), true);

    // No script error anywhere; Bob's page logged nothing at all. (The signed-out pages may log
    // the refused requests of their ended sessions.)
    assert.deepEqual(bob.errors, []);
    for (const p of [alice, other]) {
      assert.deepEqual(
        p.errors.filter((e) => !/\b401\b/.test(e)),
        [],
        'no error but the refused requests of the ended session',
      );
    }
  });
});
