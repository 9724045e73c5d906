// The NATS bus on its own, on the machine's nats-server: publish and deliver in order, subjects for
// any channel name, the exact "no node holds it" answer for connection channels, the replay window
// and its losses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_CHANNEL, connectionChannel, groupChannel } from '@switchboard/server/scaleout';
import { NatsLink } from '../src/link.ts';
import { channelSubject, subjectChannelName, token, untoken } from '../src/names.ts';
import { NatsBus, type NatsBusOptions } from '../src/nats-bus.ts';
import {
  deleteStreams,
  NATS_URL,
  RecordingReceiver,
  requireNats,
  sleep,
  uniquePrefix,
  until,
} from './helpers.ts';

const defaults: Omit<NatsBusOptions, 'prefix'> = {
  maxLen: 1_000,
  maxAgeMs: 60_000,
  maxQueuedPublishes: 1_000,
  storage: 'memory',
};

function node(prefix: string, nodeId: string, options: Partial<NatsBusOptions> = {}) {
  const receiver = new RecordingReceiver();
  const link = new NatsLink({ servers: NATS_URL, name: nodeId, onError: (e) => receiver.error(e) });
  const bus = new NatsBus(link, { hubName: '/hub', nodeId, receiver }, { ...defaults, prefix, ...options });
  return {
    receiver,
    bus,
    close: async () => {
      await bus.close();
      await link.close();
    },
  };
}

test('names: every channel name maps to a subject token and back', () => {
  for (const name of ['', 'a.b', 'with space', '*', '>', 'ünïcödé', 'a/b\\c', 'x'.repeat(300)]) {
    assert.equal(untoken(token(name)), name);
    assert.match(token(name), /^[A-Za-z0-9_-]+$/);
    const subject = channelSubject('sb.root', groupChannel(name));
    assert.equal(subjectChannelName('sb.root', subject), `group:${name}`);
  }
  assert.equal(subjectChannelName('sb.root', channelSubject('sb.root', ALL_CHANNEL)), 'all');
});

test('NATS bus: subscribed channels get every publish once, in order; others are not handed', async (t) => {
  if (!(await requireNats(t))) return;
  const prefix = uniquePrefix();
  const a = node(prefix, 'a');
  const b = node(prefix, 'b');
  try {
    await Promise.all([a.bus.ready(5_000), b.bus.ready(5_000)]);
    await b.bus.subscribe(groupChannel('g.1 x'));
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    await Promise.all(sent.map((m) => a.bus.publish(groupChannel('g.1 x'), Buffer.from(m))));
    await a.bus.publish(groupChannel('other'), Buffer.from('not for b'));
    await until(() => b.receiver.messages.length >= 200, 'b to receive 200');
    await sleep(100);
    assert.deepEqual(b.receiver.payloads(), sent);
    assert.ok(b.receiver.messages.every((m) => m.channel.kind === 'group' && m.channel.name === 'g.1 x'));
    assert.equal(a.bus.counters.published, 201);
    assert.equal(b.bus.counters.messagesReceived, 201, 'the node reads its whole hub');
    assert.deepEqual(b.receiver.losses, []);
  } finally {
    await a.close();
    await b.close();
    await deleteStreams(NATS_URL, (n) => n.includes(a.bus.stream.stream));
  }
});

test('NATS bus: a publish to a connection channel tells 0 receivers exactly when no node holds it', async (t) => {
  if (!(await requireNats(t))) return;
  const prefix = uniquePrefix();
  const a = node(prefix, 'a');
  const b = node(prefix, 'b');
  try {
    await Promise.all([a.bus.ready(5_000), b.bus.ready(5_000)]);
    assert.equal(await a.bus.publish(connectionChannel('c1'), Buffer.from('x')), 0);
    await b.bus.subscribe(connectionChannel('c1'));
    assert.equal(await a.bus.publish(connectionChannel('c1'), Buffer.from('y')), 1);
    await until(() => b.receiver.messages.length >= 1, 'the send to c1');
    await sleep(50);
    // Only `y`: `x` went out while no node held c1.
    assert.deepEqual(b.receiver.payloads(), ['y']);
    await b.bus.unsubscribe(connectionChannel('c1'));
    assert.equal(await a.bus.publish(connectionChannel('c1'), Buffer.from('z')), 0);
  } finally {
    await a.close();
    await b.close();
    await deleteStreams(NATS_URL, (n) => n.includes(a.bus.stream.stream));
  }
});
