// Three chat server processes on one PostgreSQL schema (shared storage) and one Redis prefix,
// racing, repeated: users on every node send to one room at once and the room's sequence stays
// 1..N with no gap and no duplicate, every connection getting every message once; the same
// clientMessageId sent on two nodes at once stores and delivers one message; two agents on
// different nodes claim one support request at once and exactly one wins; MESSAGE_RATE_LIMIT
// holds for a user across nodes. Skips loudly without PostgreSQL or Redis (fails under CI=true).
import assert from 'node:assert/strict';
import { after, type TestContext, test } from 'node:test';
import type { HubConnection } from '@microsoft/signalr';
import { waitFor } from '@switchboard/testkit';
import { cid, record, type Wire } from './helpers.ts';
import { type ChatCluster, REDIS_URL, servicesAvailable, startCluster } from './process-cluster.ts';

const ROUNDS = 5;
const RATE = 20;
let cluster: Promise<ChatCluster> | undefined;

after(async () => {
  await (await cluster?.catch(() => undefined))?.close();
});

/** The cluster (started by the first test that needs it), or a loud skip when a service is missing. */
async function ready(t: TestContext): Promise<ChatCluster | undefined> {
  if (!(await servicesAvailable(t))) return undefined;
  cluster ??= startCluster({
    nodes: 3,
    name: 'races',
    backplane: () => ({ REDIS_URL }),
    env: { MESSAGE_RATE_LIMIT: String(RATE), AGENT_CAPACITY: '100' },
  });
  return cluster;
}

test('three nodes write to one room at once, repeated: seq is 1..N without gap or duplicate, each message reaches every connection once', async (t) => {
  const c = await ready(t);
  if (!c) return;
  const perNode = 2;
  const perUser = 4;
  const sessions = await Promise.all(
    c.nodes.flatMap((node) => Array.from({ length: perNode }, (_, i) => c.register(`w${i}`, node))),
  );
  const conns = await Promise.all(sessions.map((s, i) => c.nodes[Math.floor(i / perNode)]!.connect(s.token)));
  const events = conns.map(record);
  const room = await conns[0]!.invoke('createRoom', { name: 'race', isPrivate: false });
  await Promise.all(conns.slice(1).map((conn) => conn.invoke('joinRoom', room.id)));

  let total = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const sent = await Promise.all(
      conns.flatMap((conn, u) =>
        Array.from({ length: perUser }, (_, k) =>
          conn.invoke('sendMessage', {
            roomId: room.id,
            text: `r${round} u${u} k${k}`,
            clientMessageId: cid(),
          }),
        ),
      ),
    );
    total += sent.length;
    const rows: Record<string, unknown>[] = await c.storage.rawAll(
      'SELECT seq FROM messages WHERE room_id = $1 ORDER BY seq',
      room.id,
    );
    assert.deepEqual(
      rows.map((r) => Number(r.seq)),
      Array.from({ length: total }, (_, i) => i + 1),
      `round ${round}: the stored sequence is 1..${total}`,
    );
    assert.deepEqual(
      sent.map((m: Wire) => m.seq).sort((a: number, b: number) => a - b),
      rows.slice(total - sent.length).map((r) => Number(r.seq)),
      `round ${round}: each send got its own number`,
    );
  }
  // History pages agree with the storage, and every connection got every message exactly once.
  const history: Wire[] = [];
  for (let after = 0; history.length < total; ) {
    const page = await conns[5]!.invoke('getHistory', { roomId: room.id, afterSeq: after, limit: 50 });
    assert.ok(page.length > 0, 'history pages on');
    history.push(...page);
    after = page.at(-1).seq;
  }
  assert.deepEqual(
    history.map((m) => m.seq),
    Array.from({ length: total }, (_, i) => i + 1),
  );
  await waitFor(
    () => events.every((e) => e.messageReceived!.length >= total),
    20_000,
    `${total} messages on every connection`,
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const [i, e] of events.entries()) {
    const seqs = e.messageReceived!.map((m) => m.seq).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: total }, (_, k) => k + 1),
      `connection ${i}: each once`,
    );
  }
});

test('the same clientMessageId sent on two nodes at once, repeated: one message, stored and delivered once', async (t) => {
  const c = await ready(t);
  if (!c) return;
  const [alice, bob] = await Promise.all([c.register('alice', c.nodes[0]), c.register('bob', c.nodes[2])]);
  const onOne = await c.nodes[0]!.connect(alice.token);
  const onTwo = await c.nodes[1]!.connect(alice.token);
  const bobOnThree = await c.nodes[2]!.connect(bob.token);
  const [e1, e2, eb] = [record(onOne), record(onTwo), record(bobOnThree)];
  const room = await onOne.invoke('openDirect', [bob.user.id]);
  for (let round = 1; round <= ROUNDS; round++) {
    const clientMessageId = cid();
    const args = { roomId: room.id, text: `once ${round}`, clientMessageId };
    const [a, b] = await Promise.all([onOne.invoke('sendMessage', args), onTwo.invoke('sendMessage', args)]);
    assert.equal(a.id, b.id, `round ${round}: both calls answer the one stored message`);
    assert.equal(a.seq, round, `round ${round}: the duplicate used no number`);
    const rows: Record<string, unknown>[] = await c.storage.rawAll(
      'SELECT id FROM messages WHERE sender_id = $1 AND client_message_id = $2',
      alice.user.id,
      clientMessageId,
    );
    assert.equal(rows.length, 1);
  }
  await waitFor(
    () => [e1, e2, eb].every((e) => e.messageReceived!.length >= ROUNDS),
    10_000,
    'every delivery',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const e of [e1, e2, eb]) {
    assert.deepEqual(
      e.messageReceived!.map((m) => m.text).sort(),
      Array.from({ length: ROUNDS }, (_, i) => `once ${i + 1}`).sort(),
      'each message once on each connection',
    );
  }
});

test('two agents on different nodes claim one request at once, repeated: exactly one wins each time', async (t) => {
  const c = await ready(t);
  if (!c) return;
  const [agent1, agent2] = await Promise.all([c.agent('racer1', c.nodes[1]), c.agent('racer2', c.nodes[2])]);
  const a1 = await c.nodes[1]!.connect(agent1.token);
  const a2 = await c.nodes[2]!.connect(agent2.token);
  const wins = { [agent1.user.id]: 0, [agent2.user.id]: 0 };
  for (let round = 1; round <= ROUNDS; round++) {
    const guest = await c.guest(`customer ${round}`, c.nodes[0]);
    const customer: HubConnection = await c.nodes[0]!.connect(guest.token);
    const ec = record(customer);
    const request = await customer.invoke('openSupportRequest', { subject: `s${round}`, text: 'help' });
    const race = await Promise.allSettled([
      a1.invoke('claimSupportRequest', request.id),
      a2.invoke('claimSupportRequest', request.id),
    ]);
    const won = race.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, `round ${round}: exactly one winner`);
    const lost = race.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.match(String(lost.reason), /SB_CHAT_ALREADY_CLAIMED/);
    const winnerId = (won[0] as PromiseFulfilledResult<Wire>).value.agentId;
    wins[winnerId]! += 1;
    assert.equal((await c.storage.supportRequestById(request.id))?.agentId, winnerId);
    await waitFor(
      () => ec.supportRequestUpdated!.some((e) => e.request.status === 'assigned'),
      10_000,
      'the customer told of the claim',
    );
    const assigned = ec.supportRequestUpdated!.filter((e) => e.request.status === 'assigned');
    assert.equal(assigned.length, 1, 'one assignment reaches the customer');
    assert.equal(assigned[0].request.agentId, winnerId);
    await (winnerId === agent1.user.id ? a1 : a2).invoke('closeSupportRequest', request.id);
    await customer.stop();
  }
  assert.equal(wins[agent1.user.id]! + wins[agent2.user.id]!, ROUNDS);
});

test('MESSAGE_RATE_LIMIT holds per user across nodes: a user on two nodes gets the rate once, not twice', async (t) => {
  const c = await ready(t);
  if (!c) return;
  const carol = await c.register('carol', c.nodes[0]);
  const onOne = await c.nodes[0]!.connect(carol.token);
  const onTwo = await c.nodes[1]!.connect(carol.token);
  const room = await onOne.invoke('createRoom', { name: 'limits', isPrivate: false });
  // RATE sends on each node at once: a per-node limit would take all 2 × RATE.
  const started = Date.now();
  const results = await Promise.allSettled(
    [onOne, onTwo].flatMap((conn, n) =>
      Array.from({ length: RATE }, (_, i) =>
        conn.invoke('sendMessage', { roomId: room.id, text: `n${n} ${i}`, clientMessageId: cid() }),
      ),
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  const accepted = results.filter((r) => r.status === 'fulfilled').length;
  // The burst, plus what flowed in while the sends ran: whatever the machine's speed.
  assert.ok(accepted >= RATE, `the burst is allowed (${accepted})`);
  assert.ok(
    accepted <= RATE + Math.ceil(RATE * seconds),
    `${accepted} accepted in ${seconds} s: at most the burst and the refill, for both nodes together`,
  );
  const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  assert.equal(refused.length, 2 * RATE - accepted);
  for (const r of refused)
    assert.match(String(r.reason), /SB_CHAT_RATE_LIMITED: At most 20 messages per second/);
  const stored = await c.storage.rawAll('SELECT COUNT(*) AS n FROM messages WHERE room_id = $1', room.id);
  assert.equal(Number(stored[0]!.n), accepted);
});
