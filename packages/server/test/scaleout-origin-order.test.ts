// The per-origin order of a bus without a replay log (NATS): a resend overtaken by a later publish is put back in
// place; a number that never comes is counted lost after the hold; a counted stream gap resyncs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OriginOrder } from '../src/scaleout/origin-order.ts';

function recorder(holdMs = 50) {
  const out: string[] = [];
  const lost: string[] = [];
  const order = new OriginOrder(holdMs, (origin, from, to) => lost.push(`${origin}:${from}..${to}`));
  const give = (origin: string, n: number) => order.accept(origin, n, () => out.push(`${origin}${n}`));
  return { out, lost, order, give };
}

test('entries of one origin are delivered by number; other origins are not held up', () => {
  const { out, give, order } = recorder();
  give('a', 1);
  give('a', 3); // 2 was overtaken
  give('b', 7);
  give('a', 4);
  assert.deepEqual(out, ['a1', 'b7']);
  assert.equal(order.held, 2);
  give('a', 2);
  give('a', 2); // a second copy is dropped
  assert.deepEqual(out, ['a1', 'b7', 'a2', 'a3', 'a4']);
  order.clear();
});

test('a number that never arrives is counted lost after the hold, and what waited goes on', async () => {
  const { out, lost, give, order } = recorder(30);
  give('a', 1);
  give('a', 4);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(out, ['a1', 'a4']);
  assert.deepEqual(lost, ['a:2..3']);
  order.clear();
});

test('after a counted stream gap, every origin starts again at its next entry', () => {
  const { out, lost, give, order } = recorder();
  give('a', 1);
  give('a', 3);
  order.resync();
  give('a', 9);
  assert.deepEqual(out, ['a1', 'a3', 'a9']);
  assert.deepEqual(lost, []);
  order.clear();
});
