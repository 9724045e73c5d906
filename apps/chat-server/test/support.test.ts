// The support desk through the hub: a request waits while no agent is online, the queue is live
// for every agent, exactly one of two racing agents wins, transfer and close notify both sides, a
// returning guest continues the same conversation, and agents have a capacity.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ChatTestServer, cid, record, startChat, type Wire, waitCount } from './helpers.ts';

let s: ChatTestServer;
before(async () => {
  s = await startChat({ AGENT_CAPACITY: '1' });
});
after(() => s.close());

const statusOf = (events: Wire[]) => events.map((e) => e.request.status);

test('the full flow: wait, race, transfer, close, and a returning guest', async () => {
  // No agent online: the request waits in the queue.
  const guest = await s.guest('Customer');
  let customer = await s.connect(guest.token);
  let ec = record(customer);
  const request = await customer.invoke('openSupportRequest', {
    subject: 'Broken order',
    text: 'my order is broken',
  });
  assert.equal(request.status, 'open');
  assert.equal(request.agentId, null);
  assert.equal(request.message.text, 'my order is broken');

  const [agent1, agent2] = await Promise.all([s.agent('agent1'), s.agent('agent2')]);
  const [a1, a2] = await Promise.all([s.connect(agent1.token), s.connect(agent2.token)]);
  const e1 = record(a1);
  const e2 = record(a2);
  assert.ok(
    (await a1.invoke('listSupportQueue')).some((r: Wire) => r.id === request.id),
    'it waited',
  );
  const agents = await a1.invoke('listAgents');
  assert.ok(agents.some((a: Wire) => a.id === agent2.user.id && a.online === true));

  // The queue is live for every agent.
  const other = await s.connect((await s.guest('Someone else')).token);
  const second = await other.invoke('openSupportRequest', { subject: 'Question', text: 'hello?' });
  await Promise.all([waitCount(e1.supportQueueUpdated!, 1), waitCount(e2.supportQueueUpdated!, 1)]);
  assert.equal(e1.supportQueueUpdated![0].request.id, second.id);
  // Agents see who asks before claiming.
  assert.equal(e1.supportQueueUpdated![0].request.customerName, 'Someone else');
  assert.equal(
    (await a1.invoke('listSupportQueue')).find((r: Wire) => r.id === request.id).customerName,
    'Customer',
  );
  await a2.invoke('closeSupportRequest', second.id); // an unclaimed one any agent may close

  // Two agents click at once: exactly one wins.
  const race = await Promise.allSettled([
    a1.invoke('claimSupportRequest', request.id),
    a2.invoke('claimSupportRequest', request.id),
  ]);
  const won = race.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1);
  assert.match(
    String((race.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason),
    /SB_CHAT_ALREADY_CLAIMED/,
  );
  const winnerIndex = race.indexOf(won[0]!);
  const [winner, loser] = winnerIndex === 0 ? [a1, a2] : [a2, a1];
  const [winnerId, loserId] =
    winnerIndex === 0 ? [agent1.user.id, agent2.user.id] : [agent2.user.id, agent1.user.id];
  await waitCount(ec.supportRequestUpdated!, 2); // opened, assigned
  assert.deepEqual(statusOf(ec.supportRequestUpdated!), ['open', 'assigned']);
  assert.equal(ec.supportRequestUpdated![1].request.agentId, winnerId);

  // The agent sees the earlier history and they talk.
  const earlier = await winner.invoke('getHistory', { roomId: request.roomId });
  assert.deepEqual(
    earlier.map((m: Wire) => m.text),
    ['my order is broken'],
  );
  await winner.invoke('sendMessage', { roomId: request.roomId, text: 'let me look', clientMessageId: cid() });
  await waitCount(ec.messageReceived!, 2); // the customer's own first message, then the agent's
  assert.deepEqual(
    ec.messageReceived!.map((m) => m.text),
    ['my order is broken', 'let me look'],
  );
  await assert.rejects(loser.invoke('getHistory', { roomId: request.roomId }), /SB_CHAT_FORBIDDEN/);

  // Transfer: both agents and the customer hear of it; the next agent sees the history.
  const ew = winner === a1 ? e1 : e2;
  const el = loser === a1 ? e1 : e2;
  const wBefore = ew.supportRequestUpdated!.length;
  const moved = await winner.invoke('transferSupportRequest', request.id, loserId);
  assert.equal(moved.agentId, loserId);
  await Promise.all([
    waitCount(ec.supportRequestUpdated!, 3),
    waitCount(ew.supportRequestUpdated!, wBefore + 1),
    waitCount(el.supportRequestUpdated!, 1),
  ]);
  assert.deepEqual(
    (await loser.invoke('getHistory', { roomId: request.roomId })).map((m: Wire) => m.text),
    ['my order is broken', 'let me look'],
  );
  await assert.rejects(winner.invoke('getHistory', { roomId: request.roomId }), /SB_CHAT_FORBIDDEN/);

  // The customer still gets the name of the agent who wrote and left (not of strangers).
  const stranger = await s.register('stranger');
  const named = await customer.invoke('getUsers', [winnerId, loserId, stranger.user.id]);
  assert.deepEqual(named.map((u: Wire) => u.id).sort(), [winnerId, loserId].sort());
  assert.ok(named.every((u: Wire) => typeof u.displayName === 'string' && !('passwordHash' in u)));

  // The guest comes back with the same token and continues the same request and room.
  await customer.stop();
  customer = await s.connect(guest.token);
  ec = record(customer);
  assert.ok((await customer.invoke('listRooms')).some((r: Wire) => r.id === request.roomId));
  const again = await customer.invoke('openSupportRequest', { subject: 'Broken order', text: 'any news?' });
  assert.equal(again.id, request.id);
  assert.equal(again.status, 'assigned');

  // Close: both sides hear it; a new request reuses the room, so the next agent sees everything.
  const closed = await loser.invoke('closeSupportRequest', request.id);
  assert.equal(closed.status, 'closed');
  await waitCount(ec.supportRequestUpdated!, 1);
  assert.equal(ec.supportRequestUpdated![0].request.status, 'closed');
  const next = await customer.invoke('openSupportRequest', { subject: 'Another', text: 'one more thing' });
  assert.notEqual(next.id, request.id);
  assert.equal(next.roomId, request.roomId);
  await winner.invoke('claimSupportRequest', next.id);
  const all = await winner.invoke('getHistory', { roomId: next.roomId });
  assert.deepEqual(
    all.map((m: Wire) => m.text),
    ['my order is broken', 'let me look', 'any news?', 'one more thing'],
  );
});

test('an agent at capacity cannot claim more', async () => {
  const agent = await s.agent('busy');
  const a = await s.connect(agent.token);
  const [g1, g2] = await Promise.all([s.guest('one'), s.guest('two')]);
  const [c1, c2] = await Promise.all([s.connect(g1.token), s.connect(g2.token)]);
  const r1 = await c1.invoke('openSupportRequest', { subject: 's1', text: 't1' });
  const r2 = await c2.invoke('openSupportRequest', { subject: 's2', text: 't2' });
  await a.invoke('claimSupportRequest', r1.id);
  await assert.rejects(a.invoke('claimSupportRequest', r2.id), /SB_CHAT_AGENT_AT_CAPACITY/);
  await assert.rejects(
    c1.invoke('closeSupportRequest', r1.id),
    /SB_CHAT_FORBIDDEN/,
    'customers do not close',
  );
});
