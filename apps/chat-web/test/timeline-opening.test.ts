/**
 * Opening a room, in Chromium: a room with 200 unread messages opens at the first unread one (the
 * "New messages" line just above it), the read marker moves only over what is seen, and the jump
 * buttons take the reader to the newest and back to the first unread; each room has its own
 * address, so a reload keeps it, a link opens one message (scrolled to and highlighted), the back
 * button moves between rooms and `room-link` copies the address. axe-core checks the new controls.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import type { Locator, Page } from 'playwright-core';
import { axeViolations, browserSuite, createRoom, hubAs, signUp, waitConnected } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

/** Whether an element shows inside the message list's visible part. */
async function inView(page: Page, element: Locator): Promise<boolean> {
  const list = await page.getByTestId('message-list').boundingBox();
  const box = await element.boundingBox();
  return Boolean(list && box && box.y < list.y + list.height && box.y + box.height > list.y);
}

async function waitInView(page: Page, element: Locator, want = true): Promise<void> {
  const until = Date.now() + 10_000;
  while ((await inView(page, element)) !== want) {
    assert.ok(
      Date.now() < until,
      `expected ${await element.first().getAttribute('data-seq')} in view: ${want}`,
    );
    await page.waitForTimeout(100);
  }
}

const bySeq = (page: Page, seq: number) => page.locator(`[data-testid="message-item"][data-seq="${seq}"]`);

async function register(url: string, name: string): Promise<string> {
  const username = `${name}${process.pid}${Math.floor(Math.random() * 1e6)}`.slice(0, 30);
  const response = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'password123', displayName: name }),
  });
  assert.equal(response.status, 201);
  return username;
}

describe('chat-web: opening a room', () => {
  const suite = browserSuite();

  test('200 unread: opens at the first unread, marks only what is seen, jumps both ways', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const { hub: alice } = await hubAs(suite.server.url, await register(suite.server.url, 'Alma'));
    const name = `backlog-${process.pid}`;
    const room = await alice.invoke('createRoom', { name, isPrivate: false });
    const post = (i: number) =>
      alice.invoke('sendMessage', { roomId: room.id, text: `message ${i}`, clientMessageId: `c${i}` });
    for (let i = 1; i <= 60; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => post(i + j)));

    const bob = await suite.page();
    await signUp(bob.page, suite.server.url, 'Bruno');
    await bob.page.getByTestId('browse-rooms').click();
    await bob.page
      .getByTestId('public-rooms')
      .locator('li', { hasText: name })
      .getByTestId('join-room')
      .click();
    await bySeq(bob.page, 60).waitFor();
    await createRoom(bob.page, `elsewhere-${process.pid}`);
    // 200 more, 20 at a time (their order among themselves does not matter here).
    for (let i = 61; i <= 260; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => post(i + j)));
    const item = bob.page.getByTestId('room-item').filter({ hasText: name });
    await item.getByTestId('unread-badge').filter({ hasText: '200' }).waitFor();

    await item.click();
    const marker = bob.page.getByTestId('read-marker');
    await marker.waitFor();
    await waitInView(bob.page, bySeq(bob.page, 61));
    assert.ok(await inView(bob.page, marker), 'the "New messages" line is in view');
    assert.equal(await inView(bob.page, bySeq(bob.page, 260)), false);
    await bob.page.getByTestId('jump-newest').waitFor();
    assert.equal(await bob.page.getByTestId('jump-unread').isVisible(), false);
    // Only what is on screen counts as read: most of the 200 are still unread.
    await bob.page.waitForTimeout(1_000);
    const left = Number(await item.getByTestId('unread-badge').textContent());
    assert.ok(left > 150, `still ${left} unread after opening`);
    assert.deepEqual(await axeViolations(bob.page), []);

    await bob.page.getByTestId('jump-newest').click();
    await waitInView(bob.page, bySeq(bob.page, 260));
    await bob.page.getByTestId('jump-unread').waitFor();
    await bob.page.getByTestId('jump-newest').waitFor({ state: 'hidden' });
    await item.getByTestId('unread-badge').waitFor({ state: 'detached' });
    await bob.page.getByTestId('jump-unread').click();
    await waitInView(bob.page, marker);
    assert.deepEqual(await axeViolations(bob.page), []);
    await alice.stop();
  });

  test('each room has an address: a link to a message after a reload, back between rooms, room-link', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const p = await suite.page();
    const username = await signUp(p.page, suite.server.url, 'Lina');
    const { hub } = await hubAs(suite.server.url, username);
    const atlas = await hub.invoke('createRoom', { name: `atlas-${process.pid}`, isPrivate: false });
    const messages: { id: string; seq: number }[] = [];
    for (let i = 1; i <= 120; i += 20) {
      const batch = Array.from({ length: 20 }, (_, j) =>
        hub.invoke('sendMessage', { roomId: atlas.id, text: `atlas ${i + j}`, clientMessageId: `a${i + j}` }),
      );
      messages.push(...(await Promise.all(batch)));
    }
    await createRoom(p.page, `borealis-${process.pid}`);

    // A link to message 10, opened after a reload: scrolled to and highlighted.
    const target = messages.find((m) => m.seq === 10)!;
    await p.page.goto(`${suite.server.url}/#/rooms/${atlas.id}/messages/${target.id}`);
    await p.page.reload();
    await waitConnected(p.page);
    const linked = p.page.locator(`[data-testid="message-item"][data-message-id="${target.id}"]`);
    await linked.and(p.page.locator('.highlight')).waitFor();
    await waitInView(p.page, linked);
    assert.equal(await linked.getAttribute('data-seq'), '10');
    await p.page.getByTestId('room-title').filter({ hasText: 'atlas' }).waitFor();
    assert.deepEqual(await axeViolations(p.page), []);

    // Another room from the list, then back: the address follows, a reload keeps the room.
    await p.page.getByTestId('room-item').filter({ hasText: 'borealis' }).click();
    await p.page.getByTestId('room-title').filter({ hasText: 'borealis' }).waitFor();
    assert.match(p.page.url(), /#\/rooms\/[^/]+$/);
    await p.page.goBack();
    await p.page.getByTestId('room-title').filter({ hasText: 'atlas' }).waitFor();
    await p.page.goForward();
    await p.page.getByTestId('room-title').filter({ hasText: 'borealis' }).waitFor();
    await p.page.reload();
    await waitConnected(p.page);
    await p.page.getByTestId('room-title').filter({ hasText: 'borealis' }).waitFor();

    // room-link copies the room's address.
    await p.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: suite.server.url,
    });
    const borealisId = new URL(p.page.url()).hash.split('/')[2];
    await p.page.getByTestId('room-link').click();
    await p.page.getByText('Link copied').waitFor();
    const copied = await p.page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, `${suite.server.url}/#/rooms/${borealisId}`);
    await hub.stop();
  });
});
