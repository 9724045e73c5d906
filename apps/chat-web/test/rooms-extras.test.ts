/**
 * Sidebar sections, favourites, invite links and archived rooms in Chromium: the side list groups
 * conversations (Rooms, Direct messages, Support) and a room marked favourite (from the header or
 * the list) moves to Favourites on top, on the user's other device too, without a reload; the owner
 * creates an invite link in the room's settings, a signed-in user and a newcomer who signs up both
 * join the private room by opening it, a guest is refused with a clear message, a revoked link is
 * refused; an archived room shows no composer, no message actions and no reaction button. The new
 * views pass the accessibility scan.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, connectClient, requireService } from '@switchboard/testkit';
import type { Page } from 'playwright-core';
import {
  axeViolations,
  browserSuite,
  createRoom,
  hubAs,
  send,
  signIn,
  signUp,
  uniqueName,
  waitForTexts,
} from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** The sections of the side list, in order, each with its conversations' names. */
function sections(page: Page): Promise<[string, string[]][]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('[data-testid="sidebar-section"]'), (s) => [
      s.dataset.section ?? '',
      Array.from(s.querySelectorAll('.room-name'), (n) => n.textContent ?? ''),
    ]),
  );
}

async function waitSection(page: Page, section: string, name: string, present = true): Promise<void> {
  await page.waitForFunction(
    ({ section, name, present }) => {
      const s = document.querySelector(`[data-testid="sidebar-section"][data-section="${section}"]`);
      const has = Array.from(s?.querySelectorAll('.room-name') ?? []).some((n) =>
        n.textContent?.includes(name),
      );
      return has === present;
    },
    { section, name, present },
    { timeout: 15_000 },
  );
}

describe('chat-web: sidebar sections, favourites, invite links, archived rooms', () => {
  const suite = browserSuite();

  test('the side list has sections; a favourite goes on top and follows the user to their other device', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const signup = await suite.page();
    const aliceName = await signUp(signup.page, suite.server.url, 'Alice');
    await suite.server.makeAgent(aliceName);
    // A fresh sign-in: the token carries the agent's role.
    const alice = await suite.page();
    await signIn(alice.page, suite.server.url, aliceName);
    const room = `Plans ${process.pid}`;
    await createRoom(alice.page, room);
    const bob = await suite.page();
    const bobName = await signUp(bob.page, suite.server.url, 'Bob');
    const { hub: aliceHub } = await hubAs(suite.server.url, aliceName);
    const { hub: bobHub, userId: bobId } = await hubAs(suite.server.url, bobName);
    await aliceHub.invoke('openDirect', [bobId]);
    // A customer's request, claimed by Alice (an agent): her support section.
    const guest = await fetch(`${suite.server.url}/api/auth/guest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Gina' }),
    }).then((r) => r.json() as Promise<{ token: string }>);
    const guestHub = await connectClient(`${suite.server.url}/hubs/chat`, {
      accessTokenFactory: () => guest.token,
    });
    const request = await guestHub.invoke('openSupportRequest', { subject: 'Invoice', text: 'Help please' });
    await aliceHub.invoke('claimSupportRequest', request.id);
    await Promise.all([aliceHub.stop(), bobHub.stop(), guestHub.stop()]);

    await waitSection(alice.page, 'rooms', room);
    await waitSection(alice.page, 'direct', 'Bob');
    await waitSection(alice.page, 'support', 'Gina');
    assert.deepEqual(
      (await sections(alice.page)).map(([key]) => key),
      ['rooms', 'direct', 'support'],
    );
    const headings = await alice.page.getByTestId('sidebar-section').locator('h2').allTextContents();
    assert.deepEqual(headings, ['Rooms', 'Direct messages', 'Support']);

    // Alice's second device.
    const phone = await suite.page();
    await signIn(phone.page, suite.server.url, aliceName);
    await waitSection(phone.page, 'rooms', room);

    // Marked from the room's header: Favourites, on top, on both devices.
    const headerStar = alice.page.locator('.room-head').getByTestId('room-favourite');
    assert.equal(await headerStar.getAttribute('aria-pressed'), 'false');
    await headerStar.click();
    await waitSection(alice.page, 'favourites', room);
    await waitSection(phone.page, 'favourites', room);
    await waitSection(phone.page, 'rooms', room, false);
    assert.equal((await sections(phone.page))[0]![0], 'favourites');
    assert.equal(await headerStar.getAttribute('aria-pressed'), 'true');
    assert.deepEqual(await axeViolations(alice.page), []);

    // Unmarked from the list on the phone: back in Rooms everywhere; kept on the server (a reload).
    await phone.page
      .getByTestId('sidebar-section')
      .and(phone.page.locator('[data-section="favourites"]'))
      .getByTestId('room-favourite')
      .click();
    await waitSection(alice.page, 'rooms', room);
    await waitSection(alice.page, 'favourites', room, false);
    await alice.page.locator('.room-head').getByTestId('room-favourite').click();
    await waitSection(alice.page, 'favourites', room);
    await phone.page.reload();
    await waitSection(phone.page, 'favourites', room);
    // Bob's list is his own.
    await waitSection(bob.page, 'direct', 'Alice');
    assert.equal(await bob.page.locator('[data-section="favourites"]').count(), 0);
    assert.deepEqual(await axeViolations(phone.page), []);
  });

  test('invite links: created in settings, joined signed in or after signing up, refused to guests and when revoked', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const owner = await suite.page();
    await signUp(owner.page, suite.server.url, 'Olga');
    const room = `Secret ${process.pid}`;
    await createRoom(owner.page, room, true);
    await owner.page.getByTestId('room-settings-open').click();
    await owner.page.getByTestId('room-settings').waitFor();
    await owner.page.getByTestId('invite-uses').fill('5');
    await owner.page.getByTestId('invite-create').click();
    const link = owner.page.getByTestId('invite-link').first();
    await link.waitFor();
    const address = await link.inputValue();
    assert.match(address, new RegExp(`^${suite.server.url}/invite/[A-Za-z0-9_-]{32}$`));
    assert.match(
      (await owner.page.getByTestId('invite-row').first().textContent()) ?? '',
      /Active · 0\/5 used/,
    );
    assert.deepEqual(await axeViolations(owner.page), []);
    await owner.page.keyboard.press('Escape');

    // Signed in already: opening the link joins the private room and opens it.
    const member = await suite.page();
    await signUp(member.page, suite.server.url, 'Mia');
    await member.page.goto(address);
    await member.page.getByTestId('room-title').filter({ hasText: room }).waitFor({ timeout: 20_000 });
    assert.equal(new URL(member.page.url()).pathname, '/');
    await send(member.page, 'Thanks for the link');
    await waitForTexts(owner.page, ['Thanks for the link']);

    // Signing up: the sign-in screen says why; after signing up the room opens.
    const newcomer = await suite.page();
    await newcomer.page.goto(address);
    await newcomer.page.getByTestId('invite-notice').waitFor();
    assert.deepEqual(await axeViolations(newcomer.page), []);
    await newcomer.page.getByTestId('signup-link').click();
    await newcomer.page.getByTestId('invite-notice').waitFor();
    await newcomer.page.getByTestId('login-username').fill(uniqueName('nia'));
    await newcomer.page.getByLabel('Display name').fill('Nia');
    await newcomer.page.getByTestId('login-password').fill('password123');
    await newcomer.page.getByTestId('login-submit').click();
    await newcomer.page.getByTestId('room-title').filter({ hasText: room }).waitFor({ timeout: 20_000 });
    await waitForTexts(newcomer.page, ['Thanks for the link']);

    // A guest: refused, clearly; never a member.
    const guest = await suite.page();
    await guest.page.goto(address);
    await guest.page.getByTestId('invite-notice').waitFor();
    await guest.page.getByTestId('contact-support').click();
    await guest.page.getByTestId('guest-name').fill('Gus');
    await guest.page.getByTestId('guest-submit').click();
    const refusal = guest.page.getByTestId('invite-error-text');
    await refusal.waitFor({ timeout: 20_000 });
    assert.match((await refusal.textContent()) ?? '', /Guests cannot join rooms/);
    assert.deepEqual(await axeViolations(guest.page), []);

    // The owner sees the uses and revokes the link: the next person is refused.
    await owner.page.getByTestId('room-settings-open').click();
    const row = owner.page.getByTestId('invite-row').first();
    await owner.page.waitForFunction(() =>
      /2\/5 used/.test(document.querySelector('[data-testid="invite-row"]')?.textContent ?? ''),
    );
    await row.getByTestId('invite-revoke').click();
    await owner.page.locator('[data-testid="invite-row"][data-status="revoked"]').waitFor();
    await owner.page.keyboard.press('Escape');
    const late = await suite.page();
    await signUp(late.page, suite.server.url, 'Leo');
    await late.page.goto(address);
    const lateRefusal = late.page.getByTestId('invite-error-text');
    await lateRefusal.waitFor({ timeout: 20_000 });
    assert.match((await lateRefusal.textContent()) ?? '', /revoked/);
    assert.equal(await late.page.getByTestId('room-item').filter({ hasText: room }).count(), 0);
  });

  test('an archived room is read-only: no composer, no message actions, no reaction button', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const owner = await suite.page();
    await signUp(owner.page, suite.server.url, 'Ann');
    const room = `Old ${process.pid}`;
    await createRoom(owner.page, room);
    await send(owner.page, 'last words');
    await waitForTexts(owner.page, ['last words']);
    const item = owner.page.getByTestId('message-list').getByTestId('message-item').first();
    await item.hover();
    assert.equal(await item.getByTestId('message-edit').count(), 1);
    await owner.page.getByTestId('room-settings-open').click();
    await owner.page.getByTestId('room-settings-archive').click();
    await owner.page.getByTestId('archived-notice').waitFor();
    await owner.page.getByTestId('message-input').waitFor({ state: 'hidden' });
    await item.hover();
    for (const id of ['message-edit', 'message-delete', 'message-reply', 'reaction-add'])
      assert.equal(await item.getByTestId(id).count(), 0, id);
    assert.deepEqual(await axeViolations(owner.page), []);
    // Restored: the composer and the actions come back.
    await owner.page.getByTestId('room-settings-open').click();
    await owner.page.getByTestId('room-settings-archive').click();
    await owner.page.getByTestId('message-input').waitFor();
    await item.hover();
    await item.getByTestId('message-edit').waitFor({ state: 'attached' });
  });
});
