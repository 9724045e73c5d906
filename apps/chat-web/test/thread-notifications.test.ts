/**
 * A thread's own unread state and notifications in Chromium: Bob wrote a thread's first message in
 * a room set to "mentions only"; with his tab hidden (another tab of the context in front, the
 * browser reporting it hidden) Alice's reply raises a desktop notification (the `Notification`
 * constructor's calls recorded) and the thread shows one unread reply (`thread-unread`); opening
 * the thread reads it. Muted, the room notifies no thread reply, while the unread count still
 * shows. The view passes the accessibility scan.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import { axeViolations, browserSuite, createRoom, hubAs, send, signUp, watchedPage } from './helpers.ts';
import { hide, launchTabbedChromium, notes, RECORD_NOTIFICATIONS, show } from './tabbed-browser.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: thread notifications', () => {
  const suite = browserSuite();

  test("a reply in my thread while the tab is hidden: a notification and the thread's unread count", async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    const aliceName = await signUp(alice.page, suite.server.url, 'Alice');
    const name = `Threads ${process.pid}`;
    await createRoom(alice.page, name);
    const roomId = await alice.page
      .getByTestId('room-item')
      .filter({ hasText: name })
      .getAttribute('data-room-id');
    assert.ok(roomId);

    const tabs = await launchTabbedChromium();
    t.after(() => tabs.close());
    await tabs.context.addInitScript({ content: RECORD_NOTIFICATIONS });
    await tabs.context.grantPermissions(['notifications'], { origin: suite.server.url });
    const bob = await watchedPage(tabs.context);
    suite.pages.push(bob);
    const p = bob.page;
    const bobName = await signUp(p, suite.server.url, 'Bob');
    const { hub: bobHub } = await hubAs(suite.server.url, bobName);
    await bobHub.invoke('joinRoom', roomId);
    await bobHub.stop();
    await p.getByTestId('room-item').filter({ hasText: name }).click();
    await p.getByTestId('room-title').filter({ hasText: name }).waitFor();
    await send(p, 'Who takes the release?');
    const parent = p.getByTestId('message-list').getByTestId('message-item').filter({ hasText: 'release' });
    await parent.and(p.locator('[data-message-id]')).waitFor();
    const parentId = await parent.getAttribute('data-message-id');
    assert.ok(parentId);

    const { hub: aliceHub } = await hubAs(suite.server.url, aliceName);
    t.after(() => aliceHub.stop());
    const other = await tabs.context.newPage();
    await hide(p, other);
    await aliceHub.invoke('sendMessage', {
      roomId,
      text: 'I will',
      clientMessageId: `c-${Date.now()}-1`,
      parentId,
    });
    // Polled on a timer: a hidden tab runs no animation frames.
    await p.waitForFunction(
      () => (window as unknown as { __notes: unknown[] }).__notes.length > 0,
      undefined,
      {
        timeout: 20_000,
        polling: 100,
      },
    );
    const [note, ...more] = await notes(p);
    assert.deepEqual(more, []);
    assert.equal(note!.title, `Alice replied in a thread in ${name}`);
    assert.equal(note!.body, 'Alice: I will');
    const badge = parent.getByTestId('thread-unread');
    await badge.waitFor();
    assert.equal(await badge.textContent(), '1');

    // Back in front: the badge is there until the thread is opened, then it is read.
    await show(p);
    assert.deepEqual(await axeViolations(p), []);
    await parent.getByTestId('thread-open').click();
    await p.getByTestId('thread-panel').waitFor();
    await badge.waitFor({ state: 'detached', timeout: 15_000 });
    await p.getByTestId('thread-close').click();

    // Muted: a reply counts, but notifies nothing.
    await p.getByTestId('notification-settings-open').click();
    await p.getByTestId('notify-muted').check();
    await p.keyboard.press('Escape');
    await hide(p, other);
    await aliceHub.invoke('sendMessage', {
      roomId,
      text: 'Done already',
      clientMessageId: `c-${Date.now()}-2`,
      parentId,
    });
    await badge.waitFor({ timeout: 20_000 });
    assert.equal(await badge.textContent(), '1');
    assert.equal((await notes(p)).length, 1, 'no notification from a muted room');
    await show(p);
  });
});
