// The read position of a bus without a replay log over a numbered stream (NATS): an entry read
// twice is dropped, a jump is a loss, and after a reconnect the entries up to the head found then
// count as replayed (those handed before the head was known included), the ones after it do not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamSequence } from '../src/scaleout/stream-sequence.ts';

test('entries at or before the position are dropped; a jump tells how many were passed by', () => {
  const sequence = new StreamSequence({ replayed: 0 });
  sequence.last = 10;
  assert.equal(sequence.next(10), undefined);
  assert.equal(sequence.next(11), 0);
  assert.equal(sequence.next(15), 3);
  assert.equal(sequence.last, 15);
  assert.equal(sequence.next(12), undefined);
});

test('the first entry read is no loss, whatever its number', () => {
  assert.equal(new StreamSequence({ replayed: 0 }).next(42), 0);
});

test('a catch-up counts what it hands up to the head found at the reconnect', () => {
  const counters = { replayed: 0 };
  const sequence = new StreamSequence(counters);
  sequence.next(5);
  sequence.disconnected();
  for (const n of [6, 7]) {
    sequence.next(n);
    sequence.handed(n); // before the head is known
  }
  sequence.head(8);
  assert.equal(counters.replayed, 2);
  sequence.next(8);
  sequence.handed(8);
  assert.equal(counters.replayed, 3);
  sequence.next(9);
  sequence.handed(9); // past the head: live again
  sequence.next(10);
  sequence.handed(10);
  assert.equal(counters.replayed, 3);
});

test('a stream made anew numbers from 1 again and its entries belong to the catch-up', () => {
  const counters = { replayed: 0 };
  const sequence = new StreamSequence(counters);
  sequence.next(100);
  sequence.disconnected();
  sequence.restarted();
  assert.equal(sequence.last, 0);
  sequence.head(2);
  for (const n of [1, 2]) {
    assert.equal(sequence.next(n), 0);
    sequence.handed(n);
  }
  assert.equal(counters.replayed, 2);
});

test('a second loss before the head is known keeps the first catch-up', () => {
  const counters = { replayed: 0 };
  const sequence = new StreamSequence(counters);
  sequence.next(3);
  sequence.disconnected();
  sequence.next(4);
  sequence.handed(4);
  sequence.disconnected(); // the head of the first was never read: it goes on from 3
  sequence.head(4);
  assert.equal(counters.replayed, 1);
});
