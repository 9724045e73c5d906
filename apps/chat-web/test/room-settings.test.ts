/**
 * Room settings in Chromium: the owner sets a topic (shown under the title to every member) and
 * archives the room (the member's composer turns read-only) and restores it; a member who is not
 * the owner has no settings; the settings dialog passes the accessibility scan.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHROMIUM_PATH, requireService } from '@switchboard/testkit';
import { axeViolations, browserSuite, createRoom, hubAs, signUp } from './helpers.ts';

const CHROMIUM = { kind: 'file', name: 'Chromium', path: CHROMIUM_PATH } as const;

describe('chat-web: room settings', () => {
  const suite = browserSuite();

  test('the owner sets a topic and archives the room; members see it; others have no settings', async (t) => {
    if (!(await requireService(t, CHROMIUM))) return;
    const owner = await suite.page();
    await signUp(owner.page, suite.server.url, 'Olga');
    const name = `Settings ${process.pid}`;
    await createRoom(owner.page, name);
    const roomId = await owner.page
      .getByTestId('room-item')
      .filter({ hasText: name })
      .getAttribute('data-room-id');
    const member = await suite.page();
    const memberName = await signUp(member.page, suite.server.url, 'Milo');
    const { hub } = await hubAs(suite.server.url, memberName);
    await hub.invoke('joinRoom', roomId);
    await hub.stop();
    await member.page.getByTestId('room-item').filter({ hasText: name }).click();
    await member.page.getByTestId('room-title').filter({ hasText: name }).waitFor();
    assert.equal(await member.page.getByTestId('room-settings-open').count(), 0);

    await owner.page.getByTestId('room-settings-open').click();
    await owner.page.getByTestId('room-settings').waitFor();
    assert.deepEqual(await axeViolations(owner.page), []);
    await owner.page.getByLabel('Topic').fill('Plans for the launch');
    await owner.page.getByTestId('room-settings-save').click();
    await owner.page.getByTestId('room-settings').waitFor({ state: 'detached' });
    await owner.page.getByTestId('room-topic').filter({ hasText: 'Plans for the launch' }).waitFor();
    await member.page.getByTestId('room-topic').filter({ hasText: 'Plans for the launch' }).waitFor();

    await owner.page.getByTestId('room-settings-open').click();
    await owner.page.getByTestId('room-settings-archive').click();
    await member.page.getByTestId('room-topic').filter({ hasText: 'Archived' }).waitFor();
    await member.page.waitForFunction(
      () => document.querySelector<HTMLTextAreaElement>('[data-testid="message-input"]')?.disabled === true,
    );
    await owner.page.getByTestId('room-settings-open').click();
    await owner.page.getByTestId('room-settings-archive').click();
    await member.page.waitForFunction(
      () => document.querySelector<HTMLTextAreaElement>('[data-testid="message-input"]')?.disabled === false,
    );
    assert.deepEqual(await axeViolations(member.page), []);
  });
});
