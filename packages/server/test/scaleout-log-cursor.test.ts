// The core's reader of one ordered log for all channels (LogCursor, the PostgreSQL bus's reading
// side) on an in-memory log: reads follow joins, pages, losses beyond the window, joins while a
// read is under way or while the position lags, the catch-up after a reconnect; and the core's
// KeepConnected (a connection opened again with backoff) and retryUntil.
import assert from 'node:assert/strict';
import test from 'node:test';
import type { BusContext, BusReceiver } from '../src/scaleout/bus.ts';
import { type Channel, channelName, groupChannel, userChannel } from '../src/scaleout/channels.ts';
import { KeepConnected, retryUntil } from '../src/scaleout/keep-connected.ts';
import { LogCursor, type LogCursorPage, newLogCursorCounters } from '../src/scaleout/log-cursor.ts';

interface Row {
  id: number;
  key: string;
  channel: Channel;
  origin: string;
  payload: Uint8Array;
}

/** A log in memory, read as a backend's query would, with a gate that can hold reads back. */
class MemoryLog {
  rows: Row[] = [];
  trimmedTo = 0;
  failing = false;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  append(channel: Channel, text: string, origin = 'other'): number {
    const id = (this.rows.at(-1)?.id ?? this.trimmedTo) + 1;
    this.rows.push({
      id,
      key: channelName(channel),
      channel,
      origin,
      payload: new TextEncoder().encode(text),
    });
    return id;
  }

  trim(upTo: number): void {
    this.rows = this.rows.filter((row) => row.id > upTo);
    this.trimmedTo = Math.max(this.trimmedTo, upTo);
  }

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async read(keys: readonly string[], after: number, upTo: number | undefined, limit: number) {
    await this.gate;
    if (this.failing) throw new Error('connection lost');
    const head = this.rows.at(-1)?.id ?? this.trimmedTo;
    const rows = this.rows
      .filter((r) => keys.includes(r.key) && r.id > after && r.id <= (upTo ?? head) && r.origin !== 'me')
      .slice(0, limit);
    return { head, trimmedTo: this.trimmedTo, rows } satisfies LogCursorPage;
  }
}

function setup(pageSize?: number) {
  const log = new MemoryLog();
  const got: string[] = [];
  const events: string[] = [];
  const reported: string[] = [];
  const receiver: BusReceiver = {
    message: (channel, payload) => got.push(`${channelName(channel)}=${new TextDecoder().decode(payload)}`),
    resubscribing: () => events.push('resubscribing'),
    reconnected: () => events.push('reconnected'),
    lost: (_channel, count, detail) => events.push(`lost ${count}: ${detail}`),
    error: () => undefined,
  };
  const context: BusContext = { hubName: '/hub', nodeId: 'me', receiver };
  const counters = newLogCursorCounters();
  const cursor = new LogCursor({
    context,
    counters,
    read: (keys, after, upTo, limit) => log.read(keys, after, upTo, limit),
    readable: () => true,
    joinTimeoutMs: 2_000,
    report: (what) => reported.push(what),
    ...(pageSize !== undefined ? { pageSize } : {}),
  });
  return { log, got, events, reported, counters, cursor };
}

const room = groupChannel('room');
const ann = userChannel('ann');

test('reads only the logs it joined, from the position at its start, in order, moving the position to the head', async () => {
  const { log, got, counters, cursor } = setup();
  log.append(room, 'before');
  cursor.begin(1);
  await cursor.join(channelName(room));
  log.append(room, 'r1');
  log.append(ann, 'not joined');
  log.append(room, 'mine', 'me');
  log.append(room, 'r2');
  await cursor.read();
  assert.deepEqual(got, ['group:room=r1', 'group:room=r2']);
  assert.equal(cursor.position, 5);
  assert.equal(counters.lagRows, 0);
  assert.equal(counters.messagesReceived, 2);
});

test('reads in pages until the head', async () => {
  const { log, got, counters, cursor } = setup(2);
  cursor.begin(0);
  await cursor.join(channelName(room));
  for (let i = 0; i < 5; i++) log.append(room, `${i}`);
  await cursor.read();
  assert.deepEqual(
    got,
    ['0', '1', '2', '3', '4'].map((i) => `group:room=${i}`),
  );
  assert.equal(counters.reads, 3);
});

test('entries that left the log before the position reached them are reported lost, and reading goes on after them', async () => {
  const { log, got, events, cursor } = setup();
  cursor.begin(0);
  await cursor.join(channelName(room));
  for (let i = 0; i < 5; i++) log.append(room, `${i}`);
  log.trim(3);
  await cursor.read();
  assert.deepEqual(got, ['group:room=3', 'group:room=4']);
  assert.equal(events.length, 1);
  assert.match(events[0]!, /^lost 1: hub \/hub: log entries after 0 up to 3 left the replay window/);
});

test('a log joined while a read is under way gets its entries from the join on, once, even when that read moved past them', async () => {
  const { log, got, cursor } = setup();
  cursor.begin(0);
  await cursor.join(channelName(room));
  log.hold();
  const first = cursor.read();
  await cursor.join(channelName(ann)); // at position 0, while the read waits
  log.append(ann, 'sent after the join');
  log.release();
  await first;
  assert.equal(cursor.position, 1, 'the read moved past the entry without reading it');
  await cursor.read();
  await cursor.read();
  assert.deepEqual(got, ['user:ann=sent after the join']);
});

test('a log joined while the position lags (wake-ups ignored) starts at the head the next read finds, never before', async () => {
  const { log, got, counters, cursor } = setup();
  cursor.begin(0);
  log.append(room, 'sent before the join');
  cursor.ignore(); // a wake-up for a log this node does not read: the position lags
  assert.equal(counters.notificationsIgnored, 1);
  await cursor.join(channelName(room)); // resolves once the next read set its start
  log.append(room, 'after');
  cursor.wake(channelName(room));
  await cursor.read();
  assert.deepEqual(got, ['group:room=after']);
});

test('after a reconnect the catch-up runs between resubscribing and reconnected, counted as replayed', async () => {
  const { log, got, events, counters, cursor } = setup();
  cursor.begin(0);
  await cursor.join(channelName(room));
  cursor.up();
  await cursor.read();
  assert.deepEqual(events, [], 'the first connection is no reconnect');
  log.append(room, 'while away');
  cursor.up();
  assert.deepEqual(events, ['resubscribing']);
  await cursor.read();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ['resubscribing', 'reconnected']);
  assert.deepEqual(got, ['group:room=while away']);
  assert.equal(counters.replayed, 1);
  assert.equal(counters.reconnects, 1);
});

test('a read that fails is reported, and the next one delivers what it missed', async () => {
  const { log, got, reported, cursor } = setup();
  cursor.begin(0);
  await cursor.join(channelName(room));
  log.append(room, 'x');
  log.failing = true;
  await cursor.read();
  assert.equal(reported.length, 1);
  log.failing = false;
  await cursor.read();
  assert.deepEqual(got, ['group:room=x']);
});

test('KeepConnected opens again with backoff after a failure and after a loss, telling its owner each time', async () => {
  let attempts = 0;
  const losses: Array<(error?: unknown) => void> = [];
  const ups: boolean[] = [];
  const errors: unknown[] = [];
  const closed: number[] = [];
  const keeper = new KeepConnected<number>({
    open: async (lost) => {
      attempts++;
      if (attempts === 1) throw new Error('refused');
      losses.push(lost);
      return attempts;
    },
    close: async (connection) => {
      closed.push(connection);
    },
    onUp: (_, reconnect) => ups.push(reconnect),
    onError: (error) => errors.push(error),
    minBackoffMs: 1,
    maxBackoffMs: 5,
  });
  await keeper.start();
  assert.equal(keeper.connection, undefined);
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
  };
  await until(() => keeper.connection === 2);
  losses[0]!(new Error('terminated'));
  assert.equal(keeper.connection, undefined);
  await until(() => keeper.connection === 3);
  assert.deepEqual(ups, [true, true]);
  assert.equal(keeper.reconnects, 2);
  assert.equal(errors.length, 2);
  await keeper.close();
  assert.deepEqual(closed, [2, 3]);
  losses[1]!();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(attempts, 3, 'closed: never opened again');
});

test('retryUntil tries again with backoff until the attempt works, and gives up once stopped', async () => {
  let tries = 0;
  const errors: unknown[] = [];
  const worked = await retryUntil(
    async () => {
      if (++tries < 3) throw new Error(`try ${tries}`);
    },
    { stopped: () => false, onError: (e) => errors.push(e), minDelayMs: 1, maxDelayMs: 2 },
  );
  assert.equal(worked, true);
  assert.equal(tries, 3);
  assert.equal(errors.length, 2);
  let stopped = false;
  const gaveUp = await retryUntil(
    async () => {
      stopped = true;
      throw new Error('down');
    },
    { stopped: () => stopped, onError: () => undefined, minDelayMs: 1 },
  );
  assert.equal(gaveUp, false);
});
