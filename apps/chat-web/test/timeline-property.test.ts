/**
 * A property of the timeline store (fast-check): whatever the interleaving of the server's changes,
 * live events (delivered in order, some lost while disconnected or out of the room, some answers
 * of sends arriving late), fetches answered late and in any order, reconnects, leaves, rejoins and
 * the change log's purge, once everything has arrived the view equals the server's history from its
 * first seq to the newest, without a hole. The history is the model in history-model.ts, written
 * apart from the store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '@switchboard/chat-contract';
import fc from 'fast-check';
import { type MessageChange, TimelineStore } from '../src/timeline-store.ts';
import { flush, HistoryModel, heldApi, process } from './history-model.ts';

const ROOM = 'room-1';

type Step =
  | { kind: 'post' }
  | { kind: 'edit' | 'delete' | 'react'; pick: number }
  | { kind: 'purge' }
  | { kind: 'deliver'; count: number }
  | { kind: 'answerOwn' }
  | { kind: 'process'; pick: number }
  | { kind: 'resolve'; pick: number }
  | { kind: 'disconnect' }
  | { kind: 'reconnect' }
  | { kind: 'leave'; forget: boolean }
  | { kind: 'rejoin' }
  | { kind: 'open'; pick: number }
  | { kind: 'loadOlder' };

const pick = fc.nat({ max: 1000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'post' } as const), weight: 6 },
  { arbitrary: pick.map((p) => ({ kind: 'edit', pick: p }) as const), weight: 2 },
  { arbitrary: pick.map((p) => ({ kind: 'delete', pick: p }) as const), weight: 1 },
  { arbitrary: pick.map((p) => ({ kind: 'react', pick: p }) as const), weight: 2 },
  { arbitrary: fc.constant({ kind: 'purge' } as const), weight: 1 },
  {
    arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ({ kind: 'deliver', count: n }) as const),
    weight: 6,
  },
  { arbitrary: fc.constant({ kind: 'answerOwn' } as const), weight: 1 },
  { arbitrary: pick.map((p) => ({ kind: 'process', pick: p }) as const), weight: 5 },
  { arbitrary: pick.map((p) => ({ kind: 'resolve', pick: p }) as const), weight: 5 },
  { arbitrary: fc.constant({ kind: 'disconnect' } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'reconnect' } as const), weight: 1 },
  { arbitrary: fc.boolean().map((f) => ({ kind: 'leave', forget: f }) as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'rejoin' } as const), weight: 1 },
  { arbitrary: pick.map((p) => ({ kind: 'open', pick: p }) as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'loadOlder' } as const), weight: 1 },
);

type LiveEvent = { message: Message } | { change: MessageChange };

/** Runs the steps, then lets everything arrive; returns the store and the model. */
async function play(steps: Step[], initial: number) {
  const model = new HistoryModel(ROOM);
  for (let i = 0; i < initial; i++) model.post(`old ${i + 1}`);
  const { api, held } = heldApi();
  const store = new TimelineStore(api, () => {
    const seqs = store
      .timeline(ROOM)
      .messages()
      .map((m) => m.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `a hole: ${seqs}`);
  });
  let connected = true;
  let member = true;
  const events: LiveEvent[] = [];
  const ownAnswers: Message[] = [];
  const emit = (event: LiveEvent) => {
    if (connected && member) events.push(event);
  };
  const changeOf = (m: Message): MessageChange => ({
    roomId: ROOM,
    messageId: m.id,
    changeSeq: m.changeSeq ?? 0,
    apply: () => m,
  });
  const live = () => model.messages.filter((m) => !m.deleted);
  const deliver = (event: LiveEvent) =>
    'message' in event ? store.receive(event.message) : store.change(event.change);
  const failAll = () => {
    for (const request of held.splice(0)) request.reject(new Error('The connection was lost.'));
  };
  const open = (at?: { seq: number }) => void store.open(ROOM, at).catch(() => undefined);

  open();
  for (const s of steps) {
    switch (s.kind) {
      case 'post': {
        const message = model.post(`new ${model.messages.length + 1}`);
        emit({ message });
        if (message.seq % 3 === 0 && connected && member) ownAnswers.push(message);
        break;
      }
      case 'edit':
      case 'delete':
      case 'react': {
        const targets = live();
        if (targets.length === 0) break;
        const seq = targets[s.pick % targets.length]!.seq;
        const m =
          s.kind === 'edit'
            ? model.edit(seq, `edit ${s.pick}`)
            : s.kind === 'delete'
              ? model.delete(seq)
              : model.react(seq, `u${s.pick % 3}`, ['👍', '🎉'][s.pick % 2]!);
        emit({ change: changeOf(m) });
        break;
      }
      case 'purge':
        model.purge();
        break;
      case 'deliver':
        for (const event of events.splice(0, s.count)) deliver(event);
        break;
      case 'answerOwn': {
        const answer = ownAnswers.shift();
        if (answer) store.receive(answer);
        break;
      }
      case 'process': {
        const waiting = held.filter((r) => !r.answer);
        if (waiting.length > 0) process(model, waiting[s.pick % waiting.length]!);
        break;
      }
      case 'resolve': {
        const ready = held.filter((r) => r.answer);
        if (ready.length === 0) break;
        const request = ready[s.pick % ready.length]!;
        held.splice(held.indexOf(request), 1);
        request.resolve(request.answer!);
        break;
      }
      case 'disconnect':
        if (!connected) break;
        connected = false;
        events.length = 0;
        failAll();
        break;
      case 'reconnect':
        if (connected) break;
        connected = true;
        if (member) open(); // the shown room is opened again; the store catches it up
        break;
      case 'leave':
        if (!member) break;
        member = false;
        events.length = 0;
        failAll();
        if (s.forget) store.forget(ROOM);
        break;
      case 'rejoin':
        if (member || !connected) break;
        member = true;
        open();
        break;
      case 'open':
        if (connected && member) open({ seq: 1 + (s.pick % Math.max(1, model.messages.length)) });
        break;
      case 'loadOlder':
        if (connected && member) void store.loadOlder(ROOM).catch(() => undefined);
        break;
    }
    await flush();
  }
  // The end: back in the room and connected, then everything arrives.
  if (!connected || !member) {
    connected = true;
    member = true;
    open();
  }
  for (let rounds = 0; rounds < 1000; rounds++) {
    await flush();
    for (const event of events.splice(0)) deliver(event);
    for (const answer of ownAnswers.splice(0)) store.receive(answer);
    const request = held.shift();
    if (request) {
      process(model, request);
      request.resolve(request.answer!);
      continue;
    }
    await flush();
    if (held.length === 0 && events.length === 0 && !store.isBusy(ROOM)) break;
  }
  return { store, model };
}

test('any interleaving of live events, fetches and reconnects ends with the view equal to the history', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 60 }), fc.nat({ max: 120 }), async (steps, initial) => {
      const { store, model } = await play(steps, initial);
      const timeline = store.timeline(ROOM);
      assert.equal(timeline.loaded, true);
      assert.equal(timeline.lastSeq(), model.messages.length, 'the view reaches the newest message');
      const first = timeline.firstSeq() || 1;
      assert.deepEqual(
        timeline.messages(),
        model.messages.filter((m) => m.seq >= first),
      );
    }),
    { numRuns: 1000 },
  );
});
