/**
 * The page's timeline store without a browser, against a model of the server's history: every way
 * into a room (open, join, rejoin, invite, reclaim or transfer, reconnect, reload, a link, a search
 * result) ends with the room's messages from some seq to the newest, without a hole; events that
 * come twice, late or out of order change nothing; missed edits, deletions and reactions come by the
 * change cursor, and a cursor the log no longer covers reloads the room.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '@switchboard/chat-contract';
import { CONTEXT, type MessageChange, PAGE, TimelineStore } from '../src/timeline-store.ts';
import { flush, HistoryModel, heldApi, instantApi, process } from './history-model.ts';

const ROOM = 'room-1';

/** A store over the model that checks, at every change it reports, that the run has no hole. */
function storeOver(model: HistoryModel, calls: string[] = []) {
  const renders: number[][] = [];
  const store = new TimelineStore(instantApi(model, calls), (roomId) => {
    const seqs = store
      .timeline(roomId)
      .messages()
      .map((m) => m.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `a hole in ${seqs}`);
    renders.push(seqs);
  });
  return { store, renders, calls };
}

function view(store: TimelineStore): Message[] {
  return [...store.timeline(ROOM).messages()];
}

/** The server's history from the view's first seq on: what the view must equal. */
function expected(model: HistoryModel, store: TimelineStore): Message[] {
  const first = store.timeline(ROOM).firstSeq() || 1;
  return model.messages.filter((m) => m.seq >= first);
}

function posts(model: HistoryModel, n: number, from = model.messages.length + 1): Message[] {
  return Array.from({ length: n }, (_, i) => model.post(`m${from + i}`));
}

const edited = (m: Message): MessageChange => ({
  roomId: m.roomId,
  messageId: m.id,
  changeSeq: m.changeSeq ?? 0,
  apply: () => m,
});

test('open: the newest page with the change cursor; a next live message is added without a fetch', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, PAGE + 10);
  model.edit(3, 'three');
  const { store, calls } = storeOver(model);
  await store.open(ROOM);
  assert.deepEqual(view(store), model.messages.slice(-PAGE));
  assert.equal(store.timeline(ROOM).cursor, 1);
  assert.equal(store.timeline(ROOM).hasOlder, true);
  calls.length = 0;
  store.receive(model.post('live'));
  assert.deepEqual(view(store).at(-1)?.text, 'live');
  assert.deepEqual(calls, [], 'the next seq needs no fetch');
  assert.equal(await store.loadOlder(ROOM), true);
  assert.equal(store.timeline(ROOM).firstSeq(), 1);
  assert.deepEqual(view(store), expected(model, store));
});

test('duplicates and events out of order: each message once, the missing range fetched first', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 3);
  const { store, renders } = storeOver(model);
  await store.open(ROOM);
  const [m4, m5, m6] = posts(model, 3);
  store.receive(m6!); // seq 6 before 4 and 5: 4..6 are fetched, never a view of 1..3 then 6
  store.receive(m4!);
  store.receive(m4!);
  store.receive(m5!);
  await store.idle(ROOM);
  assert.deepEqual(view(store), model.messages);
  assert.ok(renders.every((seqs) => seqs.length === 0 || seqs[0] === 1));
});

test('leave and rejoin while others post: the live event after the gap brings the missed messages', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 5);
  const { store } = storeOver(model);
  await store.open(ROOM);
  // Left (no events for a while, the view kept), two messages missed, joined again: the next event.
  posts(model, 2);
  store.receive(model.post('after rejoin'));
  await store.idle(ROOM);
  assert.deepEqual(
    view(store).map((m) => m.text),
    ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'after rejoin'],
  );
  // Left with the view forgotten, then joined (or invited) again: opening loads it anew.
  store.forget(ROOM);
  assert.deepEqual(view(store), []);
  store.receive(model.post('while away')); // not loaded: left for the open
  posts(model, 2);
  await store.open(ROOM);
  assert.deepEqual(view(store), model.messages);
});

test('a support request reclaimed after a transfer and a close: the agent sees every message', async () => {
  const model = new HistoryModel(ROOM);
  model.post('question', 'customer');
  model.post('answer', 'agent-1');
  const { store } = storeOver(model);
  await store.open(ROOM);
  // Transferred away: agent 1 gets nothing while the other agent and the customer write and close.
  model.post('second agent here', 'agent-2');
  model.post('thanks', 'customer');
  model.post('a new question', 'customer');
  // Claimed again: the next live message comes first, then the queue's "open".
  store.receive(model.post('one more thing', 'customer'));
  await store.open(ROOM);
  assert.deepEqual(view(store), model.messages);
  assert.equal(view(store).length, 6);
});

test('reconnect: missed messages, edits, deletions and reactions; a stale event does not undo them', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 4);
  const { store } = storeOver(model);
  await store.open(ROOM);
  // Disconnected: none of this arrives live.
  const old = model.at(1);
  model.edit(1, 'one, edited');
  model.react(2, 'u1', '👍');
  model.delete(3);
  posts(model, 2);
  await store.resync(ROOM);
  assert.deepEqual(view(store), model.messages);
  assert.equal(store.timeline(ROOM).cursor, 3);
  // The live copies arrive late (another node's backplane): older states change nothing.
  store.receive(old);
  store.change(edited({ ...old, text: 'stale', changeSeq: 0 }));
  await store.idle(ROOM);
  assert.deepEqual(view(store), model.messages);
  // A tab woken from sleep is a resync too; a room never opened is left alone.
  await store.resync('other-room');
  assert.deepEqual(store.timeline('other-room').messages(), []);
});

test('reload opens at the first unread: the view holds it and the messages before it', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 260);
  const firstUnread = 61; // 200 unread
  const { store } = storeOver(model);
  assert.equal(await store.open(ROOM, { seq: firstUnread }), firstUnread);
  assert.equal(store.timeline(ROOM).firstSeq(), firstUnread - CONTEXT);
  assert.deepEqual(view(store), expected(model, store));
  assert.equal(view(store).at(-1)?.seq, 260);
});

test('a link or a search result opens at one message, even far back', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 500);
  const target = model.at(42);
  const { store } = storeOver(model);
  assert.equal(await store.open(ROOM, { messageId: target.id }), 42);
  assert.ok(store.timeline(ROOM).get(target.id));
  assert.deepEqual(view(store), expected(model, store));
  // Opened again at a message it holds: no lookup, the same run.
  assert.equal(await store.open(ROOM, { messageId: target.id }), 42);
  await assert.rejects(store.open(ROOM, { messageId: 'missing' }), /SB_CHAT_NOT_FOUND/);
});

test('a change cursor older than the log keeps: the room is loaded anew', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 5);
  const { store, calls } = storeOver(model);
  await store.open(ROOM);
  model.edit(2, 'two');
  model.purge(); // thirty days later
  model.react(4, 'u2', '🎉');
  calls.length = 0;
  await store.resync(ROOM);
  assert.deepEqual(view(store), model.messages);
  assert.ok(
    calls.some((c) => c.startsWith('getMessages {"limit"')),
    `reloaded: ${calls}`,
  );
});

test('a live change of a message whose fetch is on its way is applied when the fetch lands', async () => {
  const model = new HistoryModel(ROOM);
  posts(model, 3);
  const { api, held } = heldApi();
  const store = new TimelineStore(api);
  const opened = store.open(ROOM);
  await flush();
  process(model, held[0]!); // the server reads the page …
  const edit = model.edit(2, 'edited while on its way'); // … then the edit comes live, first
  store.change(edited(edit));
  held[0]!.resolve(held[0]!.answer!);
  await opened;
  assert.deepEqual(view(store), model.messages);
});

test('a send: the stored echo replaces the pending copy; a retried clientMessageId is not pending twice', async () => {
  const model = new HistoryModel(ROOM);
  const { store } = storeOver(model);
  await store.open(ROOM);
  const timeline = store.timeline(ROOM);
  const stored = model.post('hi', 'me');
  assert.ok(
    timeline.addPending({
      clientMessageId: stored.clientMessageId,
      roomId: ROOM,
      text: 'hi',
      status: 'sending',
    }),
  );
  assert.equal(timeline.pending().length, 1);
  store.receive(stored);
  store.receive(stored); // the answer and the event
  assert.deepEqual(timeline.pending(), []);
  assert.deepEqual(view(store), model.messages);
  assert.equal(
    timeline.addPending({
      clientMessageId: stored.clientMessageId,
      roomId: ROOM,
      text: 'hi',
      status: 'sending',
    }),
    false,
  );
});

test('a message and its edit arriving live while the room loads: the edit is kept', async () => {
  const model = new HistoryModel(ROOM);
  const { api, held } = heldApi();
  const store = new TimelineStore(api);
  const opened = store.open(ROOM);
  await flush();
  process(model, held[0]!); // the room is empty when the server reads it
  store.receive(model.post('hello'));
  store.change(edited(model.edit(1, 'hello, edited')));
  held[0]!.resolve(held[0]!.answer!);
  await opened;
  await store.idle(ROOM);
  assert.deepEqual(view(store), model.messages);
});
