// Back-pressure (docs/protocol.md#invocations, docs/protocol.md#back-pressure): a client that stops reading
// is cut at the
// send-buffer bound or after the send timeout without hurting the others, and the parallel
// invocation limit holds invocations of one connection back.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import { Hub, HubConnectionContext, type HubServerOptions } from '@switchboard/server';
import { connectClient, deferred, RawClient, startTestServer, waitFor } from '@switchboard/testkit';

const contexts = new Map<string, HubConnectionContext>();

class BroadcastHub extends Hub {
  override onConnected() {
    assert.ok(this.context instanceof HubConnectionContext);
    contexts.set(this.context.connectionId, this.context);
  }
  override onDisconnected() {
    contexts.delete(this.context.connectionId);
  }
}

/** Stops reading the client's socket: the kernel buffers fill, then the server's. */
function stopReading(raw: RawClient): Socket {
  const socket = (raw.ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  return socket;
}

const PAYLOAD = 'p'.repeat(64 * 1024);
const yieldToIo = () => new Promise((resolve) => setImmediate(resolve));

async function backPressureScenario(options: HubServerOptions, stopWhen: 'closed' | 'backed-up') {
  const server = await startTestServer((hubs) => hubs.mapHub('/broadcast', BroadcastHub), {
    heartbeatIntervalMs: 20,
    ...options,
  });
  const hubUrl = `${server.baseUrl}/broadcast`;
  const slow = await RawClient.connect(hubUrl);
  const fast = await RawClient.connect(hubUrl);
  const official = await connectClient(hubUrl);
  let officialCount = 0;
  official.on('big', () => officialCount++);
  await waitFor(() => contexts.size === 3, 2_000, 'three connections');
  const slowContext = contexts.get(slow.connectionId!)!;
  const socket = stopReading(slow);
  const all = server.hubs.hubContext('/broadcast').clients.all;
  let sent = 0;
  let maxBuffered = 0;
  const messageSize = PAYLOAD.length + 64;
  while (slowContext.isConnected && sent < 1_000) {
    await all.send('big', PAYLOAD);
    sent++;
    maxBuffered = Math.max(maxBuffered, slowContext.bufferedAmount);
    if (stopWhen === 'backed-up' && slowContext.bufferedAmount > 70_000) break;
    await yieldToIo();
  }
  return {
    server,
    slow,
    fast,
    official,
    socket,
    slowContext,
    sent,
    maxBuffered,
    messageSize,
    all,
    officialCount: () => officialCount,
  };
}

describe('a client that stops reading', () => {
  test('is cut when its send buffer reaches maxSendBufferSize; memory stays bounded; the others get everything', async () => {
    const max = 512 * 1024;
    const s = await backPressureScenario({ maxSendBufferSize: max, sendTimeoutMs: 60_000 }, 'closed');
    try {
      assert.equal(s.slowContext.isConnected, false, `cut after ${s.sent} broadcasts`);
      assert.ok(s.maxBuffered <= max + s.messageSize, `buffered ${s.maxBuffered} > ${max} + one message`);
      assert.match(String(s.slowContext.error?.message), /waited to be sent/);
      await waitFor(
        () => s.fast.ofType(MessageType.Invocation).length === s.sent,
        10_000,
        'the fast raw client',
      );
      await waitFor(() => s.officialCount() === s.sent, 10_000, 'the official client');
      assert.deepEqual(s.fast.parseErrors, []);
      // The others keep being served afterwards.
      await s.all.send('big', 'after');
      await waitFor(() => s.officialCount() === s.sent + 1, 2_000, 'one more');
    } finally {
      s.socket.resume();
      await s.official.stop();
      s.fast.close();
      await s.server.close();
    }
  });

  test('is cut after sendTimeoutMs of unsent data above the high-water mark', async () => {
    const s = await backPressureScenario(
      { maxSendBufferSize: 256 * 1024 * 1024, sendTimeoutMs: 200, sendBufferHighWaterMark: 65_536 },
      'backed-up',
    );
    try {
      assert.equal(s.slowContext.isConnected, true, 'still connected when it backed up');
      const backedUpAt = Date.now();
      await waitFor(() => !s.slowContext.isConnected, 3_000, 'the send timeout');
      const after = Date.now() - backedUpAt;
      assert.ok(after >= 150, `cut after ${after} ms, before the send timeout`);
      assert.match(String(s.slowContext.error?.message), /read nothing for 200 ms/);
      await waitFor(() => s.officialCount() === s.sent, 10_000, 'the official client');
      await waitFor(
        () => s.fast.ofType(MessageType.Invocation).length === s.sent,
        10_000,
        'the fast raw client',
      );
    } finally {
      s.socket.resume();
      await s.official.stop();
      s.fast.close();
      await s.server.close();
    }
  });

  test('a slow but reading client is not cut', async () => {
    const server = await startTestServer((hubs) => hubs.mapHub('/broadcast', BroadcastHub), {
      heartbeatIntervalMs: 20,
      sendTimeoutMs: 200,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/broadcast`);
      const all = server.hubs.hubContext('/broadcast').clients.all;
      for (let i = 0; i < 50; i++) await all.send('big', PAYLOAD);
      await waitFor(() => raw.ofType(MessageType.Invocation).length === 50, 5_000, 'every message');
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(raw.isClosed, false);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });
});

// ---- the parallel invocation limit ------------------------------------------------------------

const events: string[] = [];
let active = 0;
let gate = deferred();

class SlowHub extends Hub {
  bigint() {
    return 10n;
  }
  ok() {
    return 'ok';
  }
  async slow(name: string) {
    active++;
    events.push(`start ${name} (active ${active})`);
    await gate.promise;
    events.push(`end ${name}`);
    active--;
    return name;
  }
}

async function runTwo(limit: number): Promise<string[]> {
  events.length = 0;
  active = 0;
  gate = deferred();
  const server = await startTestServer((hubs) => hubs.mapHub('/slow', SlowHub), {
    maximumParallelInvocationsPerClient: limit,
  });
  try {
    const client = await connectClient(`${server.baseUrl}/slow`);
    const a = client.invoke('slow', 'a');
    const b = client.invoke('slow', 'b');
    await waitFor(() => events.length === Math.min(limit, 2), 2_000, 'the invocations to start');
    gate.resolve();
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    await client.stop();
    return [...events];
  } finally {
    await server.close();
  }
}

describe('maximumParallelInvocationsPerClient', () => {
  test('1: two invocations of one connection run one after the other', async () => {
    assert.deepEqual(await runTwo(1), ['start a (active 1)', 'end a', 'start b (active 1)', 'end b']);
  });

  test('2: they overlap', async () => {
    const log = await runTwo(2);
    assert.deepEqual(log.slice(0, 2), ['start a (active 1)', 'start b (active 2)']);
  });

  test('the limit is per connection: two connections run in parallel with limit 1', async () => {
    events.length = 0;
    active = 0;
    gate = deferred();
    const server = await startTestServer((hubs) => hubs.mapHub('/slow', SlowHub));
    try {
      const one = await connectClient(`${server.baseUrl}/slow`);
      const two = await connectClient(`${server.baseUrl}/slow`);
      const a = one.invoke('slow', 'a');
      const b = two.invoke('slow', 'b');
      await waitFor(() => active === 2, 2_000, 'both to run');
      gate.resolve();
      assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
      await Promise.all([one.stop(), two.stop()]);
    } finally {
      await server.close();
    }
  });

  test('thousands of synchronous calls queued behind a slow one all complete, in order', async () => {
    // A call that returns a plain value completes synchronously and starts the next queued one;
    // the queue is worked off in a loop, not by recursion, which would overflow the stack here.
    events.length = 0;
    active = 0;
    gate = deferred();
    const server = await startTestServer((hubs) => hubs.mapHub('/slow', SlowHub), {
      maximumParallelInvocationsPerClient: 1,
      maxWebSocketFrameSize: 4 * 1024 * 1024,
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/slow`);
      const count = 20_000;
      const frames = [JSON.stringify({ type: 1, invocationId: 's', target: 'slow', arguments: ['s'] })];
      for (let i = 0; i < count; i++) {
        frames.push(JSON.stringify({ type: 1, invocationId: `q${i}`, target: 'ok', arguments: [] }));
      }
      raw.sendRaw(`${frames.join('\x1e')}\x1e`); // one WebSocket frame: all parsed in one go
      await waitFor(() => active === 1, 5_000, 'the slow call to start');
      assert.equal(raw.ofType(MessageType.Completion).length, 0, 'the queue waits for the slot');
      gate.resolve();
      await waitFor(
        () => raw.ofType(MessageType.Completion).length === count + 1,
        20_000,
        'every Completion',
      );
      const ids = raw.ofType(MessageType.Completion).map((m) => (m as CompletionMessage).invocationId);
      assert.deepEqual(ids, ['s', ...Array.from({ length: count }, (_, i) => `q${i}`)]);
      assert.equal(raw.isClosed, false);
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });

  test('a result that cannot be serialized gets an error Completion and frees the slot', async () => {
    const server = await startTestServer((hubs) => {
      hubs.mapHub('/slow', SlowHub);
      hubs.mapHub('/detailed', SlowHub, { enableDetailedErrors: true });
    });
    try {
      const raw = await RawClient.connect(`${server.baseUrl}/slow`);
      const first = raw.invoke('bigint');
      const second = raw.invoke('ok'); // queued behind the first with limit 1
      const { invocationId, ...failed } = (await first) as CompletionMessage;
      assert.ok(invocationId);
      assert.deepEqual(failed, {
        type: MessageType.Completion,
        hasResult: false,
        error: "An unexpected error occurred invoking 'bigint' on the server.",
      });
      assert.equal(((await second) as { result?: unknown }).result, 'ok');
      const official = await connectClient(`${server.baseUrl}/detailed`);
      await assert.rejects(
        official.invoke('bigint'),
        /An unexpected error occurred invoking 'bigint' on the server\. \w+: /,
      );
      assert.equal(await official.invoke('ok'), 'ok');
      await official.stop();
      raw.close();
      await raw.waitForClose();
    } finally {
      await server.close();
    }
  });
});
