// The core's duplicate-drop window (docs/scale-out.md): a copy of an envelope that arrives again
// (on a second group channel, or from a retried write) is dropped, and the window forgets ids after
// SEEN_TTL_MS, so that it reaches a steady size within minutes instead of growing until its count
// limit (a soak at a few sends a second saw the heap grow for an hour).
import assert from 'node:assert/strict';
import test from 'node:test';
import { ChannelSequencer, SEEN_LIMIT, SEEN_TTL_MS } from '../src/scaleout/channel-sequencer.ts';
import { ALL_CHANNEL, groupChannel } from '../src/scaleout/channels.ts';
import { ENVELOPE_VERSION, type Envelope, encodeEnvelope } from '../src/scaleout/envelope.ts';
import { LoopbackNetwork } from '../src/scaleout/loopback-bus.ts';

function setup() {
  let now = 1_000_000;
  const delivered: Envelope[] = [];
  const sequencer = new ChannelSequencer({
    nodeId: 'me',
    handler: (_channel, envelope) => delivered.push(envelope),
    onError: (error) => assert.fail(error.message),
    now: () => now,
  });
  const network = new LoopbackNetwork();
  sequencer.attach(network.bus({ hubName: '/dedup', nodeId: 'me', receiver: sequencer }));
  return {
    sequencer,
    delivered,
    advance(ms: number) {
      now += ms;
    },
  };
}

const envelope = (n: number, origin = 'other'): Uint8Array =>
  encodeEnvelope({ v: ENVELOPE_VERSION, o: origin, n, k: 'm', t: 'hello', f: {} } as Envelope);

test('a copy of an envelope on a second channel is dropped within the window', async () => {
  const { sequencer, delivered } = setup();
  await sequencer.subscribe(groupChannel('a'));
  await sequencer.subscribe(groupChannel('b'));
  sequencer.message(groupChannel('a'), envelope(1));
  sequencer.message(groupChannel('b'), envelope(1));
  assert.equal(delivered.length, 1);
  assert.equal(sequencer.counters.duplicatesDropped, 1);
});

test('the window forgets ids older than SEEN_TTL_MS, so its size follows the rate, not the run time', async () => {
  const { sequencer, delivered, advance } = setup();
  await sequencer.subscribe(ALL_CHANNEL);
  // 10 sends a second for 20 minutes: 12,000 envelopes, more than the count limit.
  const perSecond = 10;
  let n = 0;
  for (let second = 0; second < 20 * 60; second++) {
    for (let i = 0; i < perSecond; i++) sequencer.message(ALL_CHANNEL, envelope(++n));
    advance(1_000);
  }
  assert.equal(delivered.length, n);
  assert.ok(n > SEEN_LIMIT);
  const steady = (SEEN_TTL_MS / 1_000) * perSecond;
  assert.ok(
    sequencer.seenCount <= steady + perSecond,
    `${sequencer.seenCount} ids kept, steady size ${steady}`,
  );
  // Recent ids are still dropped as duplicates; an id older than the window is forgotten.
  sequencer.message(ALL_CHANNEL, envelope(n));
  assert.equal(delivered.length, n, 'a recent duplicate is dropped');
  sequencer.message(ALL_CHANNEL, envelope(1));
  assert.equal(delivered.length, n + 1, 'an id from 20 minutes ago is no longer remembered');
});

test('the count limit still bounds the window when sends come faster than it can forget', async () => {
  const { sequencer } = setup();
  await sequencer.subscribe(ALL_CHANNEL);
  for (let n = 1; n <= SEEN_LIMIT + 500; n++) sequencer.message(ALL_CHANNEL, envelope(n));
  assert.equal(sequencer.seenCount, SEEN_LIMIT);
});
