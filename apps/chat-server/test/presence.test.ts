// Presence from the server's presence store: getPresence answers once per user however many
// connections they hold; presenceChanged comes once per transition on each watching connection,
// the offline one after the grace period (PRESENCE_GRACE_MS); an agent who goes offline hands their
// claimed support requests back to the queue.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@switchboard/testkit';
import { type ChatTestServer, record, settle, startChat, type Wire, waitCount } from './helpers.ts';

const GRACE_MS = 300;
let s: ChatTestServer;
before(async () => {
  s = await startChat({ PRESENCE_GRACE_MS: String(GRACE_MS) });
});
after(() => s.close());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('presence: once per user with two connections; presenceChanged once per transition on each watcher, offline after the grace', async () => {
  const [alice, bob, carol] = await Promise.all([
    s.register('alice'),
    s.register('bob'),
    s.register('carol'),
  ]);
  // Bob watches from two connections.
  const [b1, b2] = [await s.connect(bob.token), await s.connect(bob.token)];
  const room = await b1.invoke('createRoom', { name: 'presence', isPrivate: false });
  const [w1, w2] = [record(b1), record(b2)];

  // Alice arrives on two connections: one online event on each of Bob's connections.
  const a1 = await s.connect(alice.token);
  await a1.invoke('joinRoom', room.id);
  const a2 = await s.connect(alice.token);
  await settle(100);
  const presence = await b1.invoke('getPresence', [alice.user.id, alice.user.id]);
  assert.equal(presence.length, 1, 'one entry per user, not per connection');
  assert.deepEqual(presence[0], { userId: alice.user.id, online: true, lastSeenAt: null, status: 'online' });
  // Alice came online before she joined the room, so nobody watched her then; the transitions
  // from here on are what the watchers see.
  assert.equal(w1.presenceChanged!.filter((e: Wire) => e.userId === alice.user.id).length, 0);

  // One of her two connections leaves: she is still online, nothing is announced.
  await a2.stop();
  await settle(GRACE_MS + 300);
  assert.equal(w1.presenceChanged!.length, 0);
  assert.equal((await b2.invoke('getPresence', [alice.user.id]))[0].online, true);

  // A reload within the grace period is not a transition either.
  await a1.stop();
  const a3 = await s.connect(alice.token);
  await settle(GRACE_MS + 300);
  assert.equal(w1.presenceChanged!.length, 0, 'a quick reconnect emits nothing');

  // The last connection leaves: after the grace, exactly one offline event per watching connection.
  const left = Date.now();
  await a3.stop();
  assert.equal((await b1.invoke('getPresence', [alice.user.id]))[0].online, true, 'within the grace');
  await Promise.all([waitCount(w1.presenceChanged!, 1), waitCount(w2.presenceChanged!, 1)]);
  assert.ok(Date.now() - left >= GRACE_MS - 50, 'not before the grace period');
  await settle(GRACE_MS);
  for (const events of [w1.presenceChanged!, w2.presenceChanged!]) {
    assert.equal(events.length, 1);
    assert.equal(events[0].userId, alice.user.id);
    assert.equal(events[0].online, false);
    assert.match(events[0].lastSeenAt, ISO);
  }
  const after = (await b1.invoke('getPresence', [alice.user.id]))[0];
  assert.deepEqual(after, {
    userId: alice.user.id,
    online: false,
    lastSeenAt: w1.presenceChanged![0].lastSeenAt,
    status: 'offline',
  });

  // She comes back on two connections at once: one online event per watching connection.
  await Promise.all([s.connect(alice.token), s.connect(alice.token)]);
  await Promise.all([waitCount(w1.presenceChanged!, 2), waitCount(w2.presenceChanged!, 2)]);
  await settle(200);
  for (const events of [w1.presenceChanged!, w2.presenceChanged!]) {
    assert.equal(events.length, 2);
    assert.deepEqual(events[1], {
      userId: alice.user.id,
      online: true,
      lastSeenAt: after.lastSeenAt,
      status: 'online',
    });
  }

  // Presence only for people who share a room with the caller.
  await assert.rejects(b1.invoke('getPresence', [carol.user.id]), /SB_CHAT_FORBIDDEN/);
});

test('an agent who goes offline (after the grace) hands their claimed requests back to the queue', async () => {
  const guest = await s.guest('Customer');
  const customer = await s.connect(guest.token);
  const ec = record(customer);
  const request = await customer.invoke('openSupportRequest', { subject: 'Help', text: 'help me' });
  const [agent1, agent2] = await Promise.all([s.agent('agentA'), s.agent('agentB')]);
  const a1 = await s.connect(agent1.token);
  const a2 = await s.connect(agent2.token);
  const e2 = record(a2);
  const claimed = await a1.invoke('claimSupportRequest', request.id);
  assert.equal(claimed.status, 'assigned');
  await waitCount(e2.supportQueueUpdated!, 1);
  const agents = await a2.invoke('listAgents');
  assert.equal(agents.find((a: Wire) => a.id === agent1.user.id).online, true);

  await a1.stop();
  await waitFor(() => e2.supportQueueUpdated!.length >= 2, 5_000, 'the requeue');
  const requeued = e2.supportQueueUpdated![1].request;
  assert.equal(requeued.id, request.id);
  assert.equal(requeued.status, 'open');
  assert.equal(requeued.agentId, null);
  await waitFor(
    () =>
      ec.supportRequestUpdated!.some((e: Wire) => e.request.status === 'open' && e.request.agentId === null),
    5_000,
    'the customer told',
  );
  const queue = await a2.invoke('listSupportQueue');
  assert.equal(queue.find((r: Wire) => r.id === request.id).status, 'open');
  assert.equal((await a2.invoke('listAgents')).find((a: Wire) => a.id === agent1.user.id).online, false);
  // Another agent can claim it now.
  assert.equal((await a2.invoke('claimSupportRequest', request.id)).agentId, agent2.user.id);
});
