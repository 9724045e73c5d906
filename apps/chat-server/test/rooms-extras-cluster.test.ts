// Favourites and thread activity across two chat nodes over one PostgreSQL schema, once per
// backplane: a favourite marked on node A reaches the user's device on node B; a reply sent on
// node A reaches the thread's author on node B as `threadActivity`; an invite link created on A
// lets someone on B in, and its last use taken at once on both nodes lets exactly one person in.
// Skips loudly without the services (fails under CI=true).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@switchboard/testkit';
import { chatBackplanes } from './backplanes.ts';
import { cid, type Wire } from './helpers.ts';
import { type TwoNodes, withTwoNodes } from './two-nodes.ts';

for (const backplane of chatBackplanes) {
  test(`two nodes on the ${backplane.name} backplane: favourites, thread activity and invite links cross nodes`, (t) =>
    withTwoNodes(t, backplane, { name: 'rmh' }, crossNodes));
}

async function crossNodes({ a, b }: TwoNodes): Promise<void> {
  const alice = await a.register('alice');
  const bob = await b.register('bob');
  const carol = await b.register('carol');
  const aliceOnA = await a.connect(alice.token);
  const aliceOnB = await b.connect(alice.token);
  const bobOnA = await a.connect(bob.token);
  const carolOnB = await b.connect(carol.token);
  const favourites: Wire[] = [];
  const activity: Wire[] = [];
  aliceOnB.on('favouriteUpdated', (e: Wire) => favourites.push(e));
  aliceOnB.on('threadActivity', (e: Wire) => activity.push(e));

  const room = await aliceOnA.invoke('createRoom', { name: `cross ${cid()}`, isPrivate: true });
  await aliceOnA.invoke('setFavourite', { roomId: room.id, favourite: true });
  await waitFor(() => favourites.length === 1, 10_000, 'favouriteUpdated on node B');
  assert.deepEqual(favourites[0], { roomId: room.id, favourite: true });
  assert.equal((await aliceOnB.invoke('listRooms')).find((r: Wire) => r.id === room.id).favourite, true);

  // An invite link made on A lets Bob (on A) and Carol (on B) in.
  const invite = await aliceOnA.invoke('createInvite', { roomId: room.id, maxUses: 2 });
  await bobOnA.invoke('acceptInvite', invite.token);
  await carolOnB.invoke('acceptInvite', invite.token);

  const parent = await aliceOnA.invoke('sendMessage', {
    roomId: room.id,
    text: 'plan',
    clientMessageId: cid(),
  });
  const reply = await bobOnA.invoke('sendMessage', {
    roomId: room.id,
    text: 'agreed',
    clientMessageId: cid(),
    parentId: parent.id,
  });
  await waitFor(() => activity.length === 1, 10_000, 'threadActivity on node B');
  assert.equal(activity[0].reply.id, reply.id);
  assert.equal(activity[0].state.unreadCount, 1);

  // The last use of a link, taken at once on both nodes: exactly one person gets in.
  const last = await aliceOnA.invoke('createInvite', { roomId: room.id, maxUses: 1 });
  const [dan, eve] = [await a.register('dan'), await b.register('eve')];
  const [danOnA, eveOnB] = [await a.connect(dan.token), await b.connect(eve.token)];
  const outcomes = await Promise.allSettled([
    danOnA.invoke('acceptInvite', last.token),
    eveOnB.invoke('acceptInvite', last.token),
  ]);
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
  const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
  assert.match(String(refused.reason), /SB_CHAT_INVITE_USED_UP/);
  const members = await a.app.storage.memberIds(room.id);
  assert.equal([dan.user.id, eve.user.id].filter((u) => members.includes(u)).length, 1);
}
