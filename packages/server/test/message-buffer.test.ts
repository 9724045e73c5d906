import assert from 'node:assert/strict';
import test from 'node:test';
import { type HubMessage, MessageType } from '@switchboard/protocol';
import { MessageBuffer } from '../src/connection/message-buffer.ts';

const invocation = (n: number): HubMessage => ({ type: MessageType.Invocation, target: 'm', arguments: [n] });
const bytes = (n: number) => Buffer.alloc(n, 1);

test('outbound trackable messages are numbered from 1, kept until acknowledged, and replayed in order', () => {
  const buffer = new MessageBuffer(1_000);
  buffer.recordSent(invocation(1), bytes(10));
  buffer.recordSent({ type: MessageType.Ping }, bytes(3)); // not trackable: not numbered, not kept
  buffer.recordSent(invocation(2), bytes(20));
  buffer.recordSent(invocation(3), bytes(30));
  assert.equal(buffer.size, 60);
  buffer.ack(1);
  assert.equal(buffer.size, 50);
  const replay = buffer.replay();
  assert.equal(replay.sequenceId, 2);
  assert.deepEqual(
    replay.messages.map((m) => m.length),
    [20, 30],
  );
  buffer.ack(3);
  assert.deepEqual(buffer.replay(), { sequenceId: 4, messages: [] });
});

test('the byte limit is reported, and acknowledgements bring the buffer back under it', () => {
  const buffer = new MessageBuffer(100);
  for (let i = 0; i < 5; i++) buffer.recordSent(invocation(i), bytes(30));
  assert.equal(buffer.overLimit, true);
  buffer.ack(3);
  assert.equal(buffer.overLimit, false);
  assert.equal(buffer.size, 60);
});

test('inbound duplicates after a reconnect are dropped and an Ack is due once per batch', () => {
  const buffer = new MessageBuffer(1_000);
  assert.equal(buffer.takeAck(), undefined);
  for (let i = 1; i <= 3; i++) assert.equal(buffer.shouldProcess(invocation(i)), true);
  assert.equal(buffer.shouldProcess({ type: MessageType.Ping }), true);
  assert.equal(buffer.takeAck(), 3);
  assert.equal(buffer.takeAck(), undefined);
  // The client did not see our Ack for 2 and 3: it resumes from 2 and sends 2, 3 again, then 4.
  assert.equal(buffer.resetSequence(2), true);
  assert.equal(buffer.shouldProcess(invocation(2)), false);
  assert.equal(buffer.shouldProcess(invocation(3)), false);
  assert.equal(buffer.shouldProcess(invocation(4)), true);
  assert.equal(buffer.takeAck(), 4);
});

test('a Sequence beyond what was received is refused', () => {
  const buffer = new MessageBuffer(1_000);
  buffer.shouldProcess(invocation(1));
  assert.equal(buffer.resetSequence(3), false);
  assert.equal(buffer.resetSequence(2), true);
});

test('after a reconnect the last Ack is due again, even with nothing new', () => {
  const buffer = new MessageBuffer(1_000);
  buffer.shouldProcess(invocation(1));
  assert.equal(buffer.takeAck(), 1);
  assert.equal(buffer.resetSequence(1), true);
  assert.equal(buffer.shouldProcess(invocation(1)), false);
  assert.equal(buffer.takeAck(), 1);
});

test('an acknowledged message is not kept alive until the send list is compacted', async () => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const buffer = new MessageBuffer(1_000_000);
  const refs: WeakRef<Buffer>[] = [];
  // Fewer than the compaction batch: without releasing the slots these would all stay reachable.
  for (let i = 1; i <= 100; i++) {
    const b = bytes(1_000);
    refs.push(new WeakRef(b));
    buffer.recordSent(invocation(i), b);
  }
  buffer.ack(90);
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(
    refs.slice(0, 90).filter((r) => r.deref() !== undefined).length,
    0,
    'acknowledged bytes collected',
  );
  assert.equal(refs.slice(90).filter((r) => r.deref() !== undefined).length, 10, 'unacknowledged bytes kept');
  assert.equal(buffer.replay().messages.length, 10);
});
