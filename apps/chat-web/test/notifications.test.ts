/**
 * Notifications in Chromium: permission is asked only from a click; with the tab hidden (another
 * tab of the context brought to the front: the browser itself reports the page hidden, see
 * tabbed-browser.ts) a mention raises a desktop notification (the
 * `Notification` constructor's calls recorded) and a plain message in a "mentions only" room does
 * not; clicking it opens the room at that message; the unread count is in the title; a muted room
 * notifies nothing and shows a dot instead of a count. The settings dialog passes the
 * accessibility scan.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import {
  axeViolations,
  browserSuite,
  createRoom,
  hubAs,
  signUp,
  waitForTexts,
  watchedPage,
} from './helpers.ts';
import { hide, launchTabbedChromium, notes, RECORD_NOTIFICATIONS, show } from './tabbed-browser.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: notifications', () => {
  const suite = browserSuite();

  test('a mention while the tab is hidden: a desktop notification that opens the message; counts, mute, permission on a click', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const alice = await suite.page();
    await signUp(alice.page, suite.server.url, 'Alice');
    const name = `Notify ${process.pid}`;
    await createRoom(alice.page, name);
    const roomId = await alice.page
      .getByTestId('room-item')
      .filter({ hasText: name })
      .getAttribute('data-room-id');
    assert.ok(roomId);
    // Bob's page is a tab of a Chromium whose tabs hide each other (tabbed-browser.ts).
    const tabs = await launchTabbedChromium();
    t.after(() => tabs.close());
    await tabs.context.addInitScript({ content: RECORD_NOTIFICATIONS });
    const bob = await watchedPage(tabs.context);
    suite.pages.push(bob);
    const bobName = await signUp(bob.page, suite.server.url, 'Bob');
    const { hub } = await hubAs(suite.server.url, bobName);
    await hub.invoke('joinRoom', roomId);
    await hub.stop();
    const p = bob.page;
    await p.getByTestId('room-item').filter({ hasText: name }).click();
    await p.getByTestId('room-title').filter({ hasText: name }).waitFor();

    // Never asked on load; asked when the button is clicked.
    assert.equal(await p.evaluate(() => (window as unknown as { __asked: number }).__asked), 0);
    await p.getByTestId('notification-settings-open').click();
    await p.getByTestId('notification-settings').waitFor();
    assert.equal(await p.getByTestId('notify-mentions').isChecked(), true, 'rooms: mentions only');
    assert.deepEqual(await axeViolations(p), []);
    await p.getByTestId('notify-allow').click();
    await p.waitForFunction(() => (window as unknown as { __asked: number }).__asked === 1);
    await p.context().grantPermissions(['notifications'], { origin: suite.server.url });
    await p.keyboard.press('Escape');
    await p.getByTestId('notification-settings').waitFor({ state: 'detached' });

    // Hidden: a plain message counts in the title but does not notify ("mentions only").
    const other = await p.context().newPage();
    await hide(p, other);
    await alice.page.getByTestId('message-input').fill('plain hello');
    await alice.page.getByTestId('message-send').click();
    await p.waitForFunction(() => document.title.startsWith('(1) '), undefined, { polling: 100 });
    await alice.page.getByTestId('message-input').fill(`@${bobName} look here`);
    await alice.page.getByTestId('message-send').click();
    await p.waitForFunction(
      () => (window as unknown as { __notes: unknown[] }).__notes.length > 0,
      undefined,
      {
        polling: 100,
      },
    );
    await p.waitForFunction(() => document.title.startsWith('(2) '), undefined, { polling: 100 });
    const [note, ...more] = await notes(p);
    assert.deepEqual(more, [], 'one notification: the mention');
    assert.equal(note!.title, `Alice mentioned you in ${name}`);
    assert.equal(note!.body, `Alice: @${bobName} look here`);

    // Clicking it opens the room at that message.
    await p.evaluate(() => {
      const shown = (window as unknown as { __shown: Notification[] }).__shown[0]!;
      shown.onclick?.(new Event('click'));
    });
    await p.waitForFunction((tag) => location.hash === `#/rooms/${tag.room}/messages/${tag.message}`, {
      room: roomId,
      message: note!.tag,
    });

    // Muted: nothing notifies, the list shows a dot instead of a count, the title leaves it out.
    await show(p);
    await p.waitForFunction(() => !document.title.startsWith('('));
    await p.getByTestId('notification-settings-open').click();
    await p.getByTestId('notify-muted').check();
    await p.keyboard.press('Escape');
    await p.getByTestId('room-item').filter({ hasText: name }).waitFor();
    // Away from the room (the welcome screen), so its messages stay unread.
    await p.evaluate(() => {
      location.hash = '#/';
    });
    await p.getByTestId('room-title').waitFor({ state: 'detached' });
    await hide(p, other);
    await alice.page.getByTestId('message-input').fill(`@${bobName} muted now`);
    await alice.page.getByTestId('message-send').click();
    const item = p.getByTestId('room-item').filter({ hasText: name });
    await item.getByTestId('muted-dot').waitFor();
    assert.equal(await item.getByTestId('unread-badge').count(), 0);
    assert.equal(await item.getByTestId('mention-badge').count(), 0);
    assert.equal((await notes(p)).length, 1, 'no notification from a muted room');
    assert.ok(!(await p.title()).startsWith('('), await p.title());
    await show(p);
    assert.deepEqual(await axeViolations(p), []);
    await waitForTexts(alice.page, ['plain hello', `@${bobName} look here`, `@${bobName} muted now`]);
  });
});
