// The live path's gap rule, without any reconnect: an entry that is in a channel's log but whose
// live frame never arrived is read from the log before the next message is delivered; an entry
// that left the log is counted as lost and reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonHubProtocol, MessageType } from '@switchboard/protocol';
import { ENVELOPE_VERSION, encodeEnvelope } from '@switchboard/server/scaleout';
import { Redis } from 'ioredis';
import { RecordingConnection } from '../../testkit/src/suites/hub-lifetime-manager-suite.ts';
import type { BackplaneError } from '../src/index.ts';
import { closeNodes, REDIS_URL, requireRedis, settle, startNodes, uniquePrefix, until } from './helpers.ts';

/** Appends an entry to a channel's log without publishing it (its live frame is "lost"). */
async function appendOnly(admin: Redis, key: string, tag: string): Promise<string> {
  const last = await admin.xrevrange(key, '+', '-', 'COUNT', 1);
  const prev = last[0]?.[0] ?? '';
  const frame = jsonHubProtocol.writeMessage({ type: MessageType.Invocation, target: 'm', arguments: [tag] });
  const envelope = encodeEnvelope({
    v: ENVELOPE_VERSION,
    o: 'elsewhere',
    n: Date.now(),
    k: 'm',
    t: 'm',
    f: { json: frame },
  });
  return (await admin.xadd(key, '*', 'p', envelope, 'v', prev))!;
}

test('a gap on the live path is read from the log before the next message is delivered', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const errors: BackplaneError[] = [];
  const nodes = await startNodes(2, prefix, { onError: (e) => errors.push(e) });
  const admin = new Redis(REDIS_URL);
  try {
    const [receiverNode, sender] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const receiver = new RecordingConnection('receiver');
    await receiverNode!.onConnected(receiver);
    await sender!.addToGroup('receiver', 'g');
    await sender!.sendGroup('g', 'm', ['first']);
    await until(() => receiver.frames.length === 1, 'the first message');
    await settle(nodes);
    // Counted from here: at start-up a node may also read a channel's log once (the bus's first
    // 'ready' catches every channel up), which delivers from the log what was on its way live.
    const { replayed, duplicatesDropped } = receiverNode!.counters;
    await appendOnly(admin, `${prefix}hub:group:g#log`, 'missed');
    await sender!.sendGroup('g', 'm', ['after']);
    await until(() => receiver.frames.length === 3, 'the missed and the next message');
    await settle(nodes);
    assert.deepEqual(receiver.tags(), ['first', 'missed', 'after']);
    // The log read covers the missed entry and the one whose frame revealed the gap; that frame
    // is then dropped as already delivered.
    assert.equal(receiverNode!.counters.replayed - replayed, 2);
    assert.ok(receiverNode!.counters.duplicatesDropped - duplicatesDropped >= 1);
    assert.equal(receiverNode!.counters.lost, 0);
    assert.deepEqual(errors, []);
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});

test('an entry that left the log before it could be replayed is counted as lost and reported', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = uniquePrefix();
  const errors: BackplaneError[] = [];
  const nodes = await startNodes(2, prefix, { onError: (e) => errors.push(e) });
  const admin = new Redis(REDIS_URL);
  try {
    const [receiverNode, sender] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const receiver = new RecordingConnection('receiver');
    await receiverNode!.onConnected(receiver);
    await sender!.addToGroup('receiver', 'g');
    await sender!.sendGroup('g', 'm', ['first']);
    await until(() => receiver.frames.length === 1, 'the first message');
    const key = `${prefix}hub:group:g#log`;
    const trimmed = await appendOnly(admin, key, 'trimmed');
    await appendOnly(admin, key, 'kept');
    await admin.xdel(key, trimmed); // as if the window had trimmed it
    await sender!.sendGroup('g', 'm', ['after']);
    await until(() => receiver.frames.length === 3, 'the kept and the next message');
    await settle(nodes);
    assert.deepEqual(receiver.tags(), ['first', 'kept', 'after']);
    assert.equal(receiverNode!.counters.lost, 1);
    assert.ok(errors.some((e) => e.code === 'SB_ERR_BACKPLANE_REPLAY_GAP'));
  } finally {
    admin.disconnect();
    await closeNodes(nodes, prefix);
  }
});
