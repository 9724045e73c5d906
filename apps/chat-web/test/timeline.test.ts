/**
 * The page's message store without a browser: order by seq, one entry per id, the sender's echo
 * replacing the optimistic copy, and a stale copy never undoing an edit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Timeline } from '../src/timeline.ts';
import type { Message } from '../src/types.ts';

function message(seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    roomId: 'r1',
    seq,
    senderId: 'u1',
    text: `text ${seq}`,
    sentAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    reactions: [],
    mentions: [],
    clientMessageId: `c${seq}`,
    ...extra,
  };
}

test('messages are kept once each, in seq order, whatever order they arrive in', () => {
  const timeline = new Timeline();
  assert.equal(timeline.merge([message(3), message(1)]), 2);
  assert.equal(timeline.merge([message(2), message(3), message(1)]), 1);
  assert.deepEqual(
    timeline.messages().map((m) => m.seq),
    [1, 2, 3],
  );
  assert.equal(timeline.firstSeq(), 1);
  assert.equal(timeline.lastSeq(), 3);
});

test('the stored echo replaces the optimistic copy; a retried clientMessageId is not pending twice', () => {
  const timeline = new Timeline();
  assert.ok(timeline.addPending({ clientMessageId: 'c7', roomId: 'r1', text: 'hi', status: 'sending' }));
  assert.equal(timeline.pending().length, 1);
  timeline.merge([message(7, { text: 'hi' })]);
  assert.deepEqual(timeline.pending(), []);
  assert.equal(timeline.messages().length, 1);
  assert.equal(
    timeline.addPending({ clientMessageId: 'c7', roomId: 'r1', text: 'hi', status: 'sending' }),
    false,
  );
});

test('an older copy of a message does not undo its edit; a deletion does replace it', () => {
  const timeline = new Timeline();
  timeline.merge([message(1)]);
  timeline.update('m1', (m) => ({ ...m, text: 'edited', editedAt: new Date().toISOString() }));
  timeline.merge([message(1)]);
  assert.equal(timeline.get('m1')?.text, 'edited');
  timeline.merge([message(1, { text: '', deleted: true })]);
  assert.equal(timeline.get('m1')?.deleted, true);
  assert.equal(
    timeline.update('missing', (m) => m),
    false,
  );
});
