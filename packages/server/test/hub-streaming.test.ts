// Server-to-client streams (docs/protocol.md#server-streams, docs/protocol.md#stream-cancel,
// docs/protocol.md#error-texts) with the official
// client over WebSockets, in JSON and MessagePack: items then a Completion without result, the
// error texts, invoke-versus-stream mismatches, cancellation and disconnection closing the hub's
// iterator (its `finally` runs, its signal aborts), no invocation slot taken, and back-pressure.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HubConnection, IStreamResult } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import { Hub, HubConnectionContext, HubException } from '@switchboard/server';
import {
  connectClient,
  deferred,
  RawClient,
  startTestServer,
  type TestServer,
  waitFor,
} from '@switchboard/testkit';

/** What the hub saw, by a tag the test chooses. */
const finallyRan = new Set<string>();
const aborted = new Set<string>();
/** Bytes waiting to be sent each time the `big` stream was resumed for its next item. */
const bufferedAtResume: number[] = [];
let bigProduced = 0;
let bigContext: HubConnectionContext | undefined;

class StreamHub extends Hub {
  static methods = {
    fromIterable: { stream: true },
    throwBefore: { stream: true },
    notIterable: { stream: true },
  };

  async *counter(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }

  async *empty() {}

  async *failAfterTwo() {
    yield 1;
    yield 2;
    throw new Error('boom');
  }

  async *failWithHubException() {
    yield 'x';
    throw new HubException('stream broke');
  }

  async *unserializable() {
    yield 'fine';
    yield 10n;
    yield 'never';
  }

  /** Not a generator: returns any AsyncIterable. */
  fromIterable(from: number) {
    return {
      async *[Symbol.asyncIterator]() {
        yield from;
        yield from + 1;
      },
    };
  }

  throwBefore(message: string): AsyncIterable<never> {
    throw new Error(message);
  }

  notIterable() {
    return 42;
  }

  echo(x: unknown) {
    return x;
  }

  /** Never ends on its own; tells the caller `StreamCanceled(tag)` when cancelled. */
  async *infinite(tag: string) {
    const signal = this.invocationSignal;
    signal.addEventListener('abort', () => {
      aborted.add(tag);
      void this.clients.caller.send('StreamCanceled', tag);
    });
    try {
      for (let i = 0; ; i++) {
        yield i;
        await sleep(5, undefined, { signal }).catch(() => undefined);
      }
    } finally {
      finallyRan.add(tag);
    }
  }

  /** 16 KiB items as fast as the server lets it. */
  async *big() {
    assert.ok(this.context instanceof HubConnectionContext);
    const context = this.context;
    bigContext = context;
    const item = 'b'.repeat(16 * 1024);
    for (;;) {
      bufferedAtResume.push(context.bufferedAmount);
      bigProduced++;
      yield item;
    }
  }
}

const protocols = [
  ['JSON', undefined],
  ['MessagePack', new MessagePackHubProtocol()],
] as const;

/** The items of a stream once it completes; rejects with its error (carrying the items received). */
function collect<T>(stream: IStreamResult<T>, timeoutMs = 5_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`the stream did not end within ${timeoutMs} ms (${items.length} items)`));
    }, timeoutMs);
    const subscription = stream.subscribe({
      next: (item) => items.push(item),
      complete: () => {
        clearTimeout(timer);
        resolve(items);
      },
      error: (error) => {
        clearTimeout(timer);
        reject(Object.assign(error, { items }));
      },
    });
  });
}

let server: TestServer;

before(async () => {
  server = await startTestServer((hubs) => {
    hubs.mapHub('/stream', StreamHub);
    hubs.mapHub('/detailed', StreamHub, { enableDetailedErrors: true });
  });
});

after(async () => {
  await server.close();
});

for (const [name, protocol] of protocols) {
  describe(`server-to-client streams over ${name}`, { timeout: 60_000 }, () => {
    let client: HubConnection;
    let detailed: HubConnection;

    before(async () => {
      client = await connectClient(`${server.baseUrl}/stream`, { protocol });
      detailed = await connectClient(`${server.baseUrl}/detailed`, { protocol });
    });

    after(async () => {
      await client.stop();
      await detailed.stop();
    });

    test('an async generator streams its items, then completes', async () => {
      assert.deepEqual(await collect(client.stream('counter', 5)), [0, 1, 2, 3, 4]);
      assert.deepEqual(await collect(client.stream('Counter', 1)), [0], 'names are case-insensitive');
    });

    test('a method declared stream: true streams the AsyncIterable it returns', async () => {
      assert.deepEqual(await collect(client.stream('fromIterable', 7)), [7, 8]);
    });

    test('an empty stream completes with no item', async () => {
      assert.deepEqual(await collect(client.stream('empty')), []);
    });

    test('an error while enumerating ends the stream with the streaming error, after the items', async () => {
      await assert.rejects(collect(client.stream('failAfterTwo')), (e: Error & { items: unknown[] }) => {
        assert.equal(e.message, 'An error occurred on the server while streaming results.');
        assert.deepEqual(e.items, [1, 2]);
        return true;
      });
      await assert.rejects(collect(detailed.stream('failAfterTwo')), {
        message: 'An error occurred on the server while streaming results. Error: boom',
      });
      await assert.rejects(collect(client.stream('failWithHubException')), {
        message: 'An error occurred on the server while streaming results. HubException: stream broke',
      });
    });

    test('an item that cannot be serialized fails the stream; the connection goes on', async () => {
      await assert.rejects(collect(client.stream('unserializable')), (e: Error & { items: unknown[] }) => {
        assert.equal(e.message, 'An error occurred on the server while streaming results.');
        assert.deepEqual(e.items, ['fine']);
        return true;
      });
      assert.equal(await client.invoke('echo', 'still here'), 'still here');
    });

    test('a method that throws before its stream starts gets the invocation error', async () => {
      await assert.rejects(collect(client.stream('throwBefore', 'nope')), {
        message: "An unexpected error occurred invoking 'throwBefore' on the server.",
      });
      await assert.rejects(collect(detailed.stream('throwBefore', 'nope')), {
        message: "An unexpected error occurred invoking 'throwBefore' on the server. Error: nope",
      });
      await assert.rejects(collect(client.stream('notIterable')), {
        message:
          "The value returned by the streaming method 'notIterable' is not a ChannelReader<> or IAsyncEnumerable<>.",
      });
    });

    test('invoke of a streaming method and stream of a non-streaming one are refused', async () => {
      await assert.rejects(client.invoke('counter', 1), {
        message:
          "The client attempted to invoke the streaming 'counter' method with a non-streaming invocation.",
      });
      await assert.rejects(collect(client.stream('echo', 42)), {
        message:
          "The client attempted to invoke the non-streaming 'echo' method with a streaming invocation.",
      });
      await assert.rejects(collect(client.stream('nothing')), {
        message:
          "Failed to invoke 'nothing' due to an error on the server. HubException: Method does not exist.",
      });
      await assert.rejects(collect(client.stream('counter')), {
        message: "Failed to invoke 'counter' due to an error on the server.",
      });
    });

    test('dispose cancels the stream: the iterator closes (finally ran), its signal aborts, the hub can tell the caller', async () => {
      const tag = `${name}-cancel`;
      const canceled = deferred<string>();
      client.on('StreamCanceled', (t: string) => canceled.resolve(t));
      try {
        const items: number[] = [];
        const subscription = client.stream<number>('infinite', tag).subscribe({
          next: (i) => items.push(i),
          complete: () => undefined,
          error: () => undefined,
        });
        await waitFor(() => items.length >= 3, 5_000, 'three items');
        subscription.dispose();
        await waitFor(() => finallyRan.has(tag) && aborted.has(tag), 5_000, 'the iterator to close');
        assert.equal(await canceled.promise, tag);
        // The connection is fine, and a new stream runs.
        assert.deepEqual(await collect(client.stream('counter', 2)), [0, 1]);
      } finally {
        client.off('StreamCanceled');
      }
    });

    test('a stream takes no invocation slot: invocations run while it streams', async () => {
      const tag = `${name}-slot`;
      const items: number[] = [];
      const subscription = client.stream<number>('infinite', tag).subscribe({
        next: (i) => items.push(i),
        complete: () => undefined,
        error: () => undefined,
      });
      await waitFor(() => items.length >= 1, 5_000, 'an item');
      assert.equal(await client.invoke('echo', 'during'), 'during');
      assert.deepEqual(await collect(client.stream('counter', 3)), [0, 1, 2], 'streams run side by side');
      subscription.dispose();
      await waitFor(() => finallyRan.has(tag), 5_000, 'the iterator to close');
    });

    test('a disconnect mid-stream closes the iterator and aborts its signal', async () => {
      const tag = `${name}-disconnect`;
      const leaving = await connectClient(`${server.baseUrl}/stream`, { protocol });
      const items: number[] = [];
      leaving.stream<number>('infinite', tag).subscribe({
        next: (i) => items.push(i),
        complete: () => undefined,
        error: () => undefined,
      });
      await waitFor(() => items.length >= 2, 5_000, 'two items');
      await leaving.stop();
      await waitFor(() => finallyRan.has(tag) && aborted.has(tag), 5_000, 'the iterator to close');
    });
  });
}

describe('server-to-client streams on the wire', () => {
  test('an id already streaming is refused; Cancel ends the stream with a Completion without error', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/stream`);
    try {
      const tag = 'raw-duplicate';
      raw.send({
        type: MessageType.StreamInvocation,
        invocationId: '7',
        target: 'infinite',
        arguments: [tag],
      });
      await raw.waitForMessage((m) => m.type === MessageType.StreamItem && m.invocationId === '7');
      raw.send({ type: MessageType.StreamInvocation, invocationId: '7', target: 'counter', arguments: [3] });
      const refused = await raw.waitForMessage((m) => m.type === MessageType.Completion);
      assert.deepEqual(refused, {
        type: MessageType.Completion,
        invocationId: '7',
        hasResult: false,
        error: "Invocation ID '7' is already in use.",
      });
      raw.send({ type: MessageType.CancelInvocation, invocationId: 'unknown' }); // ignored
      raw.send({ type: MessageType.CancelInvocation, invocationId: '7' });
      await waitFor(() => finallyRan.has(tag), 5_000, 'the iterator to close');
      const completions = () => raw.ofType(MessageType.Completion) as CompletionMessage[];
      await waitFor(() => completions().length === 2, 5_000, 'the final Completion');
      assert.deepEqual(completions()[1], {
        type: MessageType.Completion,
        invocationId: '7',
        hasResult: false,
      });
      // Once ended, the id may be used again.
      raw.send({ type: MessageType.StreamInvocation, invocationId: '7', target: 'counter', arguments: [2] });
      await waitFor(() => completions().length === 3, 5_000, 'the reused id to complete');
      assert.deepEqual(completions()[2], {
        type: MessageType.Completion,
        invocationId: '7',
        hasResult: false,
      });
    } finally {
      raw.close();
      await raw.waitForClose();
    }
  });

  test('back-pressure: the stream waits while the client lags, instead of buffering', async () => {
    const highWaterMark = 64 * 1024;
    const lagging = await startTestServer((hubs) => hubs.mapHub('/stream', StreamHub), {
      sendBufferHighWaterMark: highWaterMark,
      sendTimeoutMs: 60_000,
    });
    const raw = await RawClient.connect(`${lagging.baseUrl}/stream`);
    const socket = (raw.ws as unknown as { _socket: Socket })._socket;
    try {
      bufferedAtResume.length = 0;
      bigProduced = 0;
      socket.pause(); // the client reads nothing: the kernel's buffers fill, then the server's
      raw.send({ type: MessageType.StreamInvocation, invocationId: '1', target: 'big', arguments: [] });
      await waitFor(
        () => (bigContext?.bufferedAmount ?? 0) > highWaterMark,
        20_000,
        'the server-side buffer to pass the high-water mark',
      );
      const producedWhenBackedUp = bigProduced;
      await sleep(200);
      assert.ok(
        bigProduced <= producedWhenBackedUp + 1,
        `${bigProduced - producedWhenBackedUp} more items produced while the client read nothing`,
      );
      // The client reads again: the stream goes on.
      socket.resume();
      await waitFor(() => bigProduced > producedWhenBackedUp + 50, 20_000, 'the stream to go on');
      raw.send({ type: MessageType.CancelInvocation, invocationId: '1' });
      await raw.waitForMessage((m) => m.type === MessageType.Completion, 20_000);
      // Never resumed for a new item while more than the mark (plus one ping) waited.
      const worst = Math.max(...bufferedAtResume);
      assert.ok(worst <= highWaterMark + 64, `resumed with ${worst} bytes unsent`);
    } finally {
      socket.resume();
      raw.close();
      await raw.waitForClose().catch(() => undefined);
      await lagging.close();
    }
  });
});
