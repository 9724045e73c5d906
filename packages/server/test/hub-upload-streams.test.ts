// Client-to-server (upload) streams (docs/protocol.md#upload-streams, docs/protocol.md#upload-buffering) with
// the official client's
// Subject over WebSockets, in JSON and MessagePack: items reach the method as an UploadStream in
// order, a client error fails the method with a HubException, stream parameters go after the
// arguments or where declared, count mismatches, and the buffer capacity holds the connection back
// (seen through counters, not timing).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HubConnection, type IStreamResult, Subject } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { MessageType } from '@switchboard/protocol';
import { Hub, type UploadStream } from '@switchboard/server';
import {
  connectClient,
  deferred,
  RawClient,
  startTestServer,
  type TestServer,
  waitFor,
  within,
} from '@switchboard/testkit';

let gate = deferred();
let gatedStream: UploadStream<number> | undefined;
let gatedMaxBuffered = 0;
/** What the gated method's stream holds now (a function, so that the compiler does not narrow it). */
const gatedBuffered = (): number | undefined => gatedStream?.bufferedCount;
const started = new Set<string>();
const ended = new Set<string>();

class UploadHub extends Hub {
  static methods = { positioned: { streams: [1] } };

  async concat(stream: UploadStream<string>) {
    let text = '';
    for await (const part of stream) text += part;
    return text;
  }

  /** Stream parameters come after the ordinary arguments by default. */
  async withArgs(prefix: string, times: number, stream: UploadStream<string>) {
    const parts: string[] = [];
    for await (const part of stream) parts.push(part.repeat(times));
    return prefix + parts.join(',');
  }

  /** Declared position: the stream is the middle parameter. */
  async positioned(before: string, stream: UploadStream<unknown>, after: string) {
    const items: unknown[] = [];
    for await (const item of stream) items.push(item);
    return { before, items, after };
  }

  async both(label: string, first: UploadStream<number>, second: UploadStream<number>) {
    const read = async (s: UploadStream<number>) => {
      const items: number[] = [];
      for await (const x of s) items.push(x);
      return items;
    };
    return [label, ...(await Promise.all([read(first), read(second)]))];
  }

  /** Returns after the first item; the rest of the stream is dropped. */
  async firstOnly(stream: UploadStream<string>) {
    for await (const item of stream) return item;
    return null;
  }

  async *doubled(stream: UploadStream<number>) {
    for await (const x of stream) yield x * 2;
  }

  /** Reads nothing until the test opens the gate. */
  async gated(stream: UploadStream<number>) {
    gatedStream = stream;
    await gate.promise;
    const items: number[] = [];
    for await (const x of stream) {
      items.push(x);
      gatedMaxBuffered = Math.max(gatedMaxBuffered, stream.bufferedCount);
    }
    return items;
  }

  async watched(tag: string, stream: UploadStream<unknown>) {
    try {
      for await (const _ of stream) started.add(tag);
    } finally {
      ended.add(tag);
    }
  }

  echo(x: unknown) {
    return x;
  }
}

const protocols = [
  ['JSON', undefined],
  ['MessagePack', new MessagePackHubProtocol()],
] as const;

function collect<T>(stream: IStreamResult<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    stream.subscribe({ next: (i) => items.push(i), complete: () => resolve(items), error: reject });
  });
}

let server: TestServer;

before(async () => {
  server = await startTestServer((hubs) => {
    hubs.mapHub('/upload', UploadHub);
    hubs.mapHub('/small', UploadHub, { streamBufferCapacity: 5 });
  });
});

after(async () => {
  await server.close();
});

for (const [name, protocol] of protocols) {
  describe(`upload streams over ${name}`, { timeout: 60_000 }, () => {
    let client: HubConnection;

    before(async () => {
      client = await connectClient(`${server.baseUrl}/upload`, { protocol });
    });

    after(async () => {
      await client.stop();
    });

    test('the items of a Subject reach the method in order (StreamingConcat)', async () => {
      const subject = new Subject<string>();
      const result = client.invoke('concat', subject);
      subject.next('Hello ');
      subject.next('world');
      subject.next('!');
      subject.complete();
      assert.equal(await within(result), 'Hello world!');
      const empty = new Subject<string>();
      const none = client.invoke('concat', empty);
      empty.complete();
      assert.equal(await within(none), '');
    });

    test("a client error fails the method with a HubException carrying the client's text", async () => {
      const subject = new Subject<string>();
      const result = client.invoke('concat', subject);
      subject.next('partial');
      subject.error(new Error('Something bad'));
      await assert.rejects(within(result), {
        message: "An unexpected error occurred invoking 'concat' on the server. HubException: Something bad",
      });
      assert.equal(await client.invoke('echo', 'after'), 'after');
    });

    test('stream parameters follow the arguments, or sit where the method declares them', async () => {
      const subject = new Subject<string>();
      const result = client.invoke('withArgs', 'got:', 2, subject);
      subject.next('a');
      subject.next('b');
      subject.complete();
      assert.equal(await within(result), 'got:aa,bb');
      const middle = new Subject<unknown>();
      const positioned = client.invoke('positioned', 'x', middle, 'y');
      middle.next(1);
      middle.next({ two: [2] });
      middle.complete();
      assert.deepEqual(await within(positioned), { before: 'x', items: [1, { two: [2] }], after: 'y' });
    });

    // The official client misses a stream that directly follows another in the arguments (it
    // splices the list while walking it), so the two Subjects are kept apart by an argument.
    test('several streams of one call are kept apart', async () => {
      const a = new Subject<number>();
      const b = new Subject<number>();
      const result = client.invoke('both', a, 'label', b);
      a.next(1);
      b.next(10);
      a.next(2);
      b.next(20);
      b.complete();
      a.next(3);
      a.complete();
      assert.deepEqual(await within(result), ['label', [1, 2, 3], [10, 20]]);
    });

    test('a call with more or fewer streams than the method takes is refused', async () => {
      const extra = new Subject<string>();
      await assert.rejects(within(client.invoke('echo', 'x', extra)), {
        message:
          "An unexpected error occurred invoking 'echo' on the server. HubException: Client sent 1 stream(s), Hub method expects 0.",
      });
      extra.complete();
      const a = new Subject<string>();
      const b = new Subject<string>();
      await assert.rejects(within(client.invoke('concat', a, 'x', b)), {
        message:
          "An unexpected error occurred invoking 'concat' on the server. HubException: Client sent 2 stream(s), Hub method expects 0.",
      });
      a.complete();
      b.complete();
      await assert.rejects(within(client.invoke('positioned', 'x', 'y')), {
        message:
          "An unexpected error occurred invoking 'positioned' on the server. HubException: Client sent 0 stream(s), Hub method expects 1.",
      });
      assert.equal(await client.invoke('echo', 'fine'), 'fine');
    });

    test('a method that returns early closes its stream; later items are ignored', async () => {
      const subject = new Subject<string>();
      const result = client.invoke('firstOnly', subject);
      subject.next('first');
      assert.equal(await within(result), 'first');
      subject.next('ignored');
      subject.complete();
      assert.equal(await client.invoke('echo', 'fine'), 'fine');
    });

    test('a streaming method can read an upload stream', async () => {
      const subject = new Subject<number>();
      const items = collect(client.stream('doubled', subject));
      subject.next(1);
      subject.next(21);
      subject.complete();
      assert.deepEqual(await within(items), [2, 42]);
    });

    test('upload calls take no slot: a second one runs while the first waits, with its items', async () => {
      gate = deferred();
      gatedStream = undefined;
      const holding = new Subject<number>();
      const first = client.invoke('gated', holding); // runs until the gate opens
      await waitFor(() => gatedStream !== undefined, 5_000, 'the gated method to start');
      const queued = new Subject<string>();
      const second = client.invoke('concat', queued); // does not wait for the first (13.10)
      queued.next('kept ');
      queued.next('while queued');
      queued.complete();
      assert.equal(await within(second), 'kept while queued');
      holding.complete();
      gate.resolve();
      assert.deepEqual(await within(first), []);
    });

    test('the buffer holds at most streamBufferCapacity items; the connection waits, nothing is lost', async () => {
      const small = await connectClient(`${server.baseUrl}/small`, { protocol });
      try {
        gate = deferred();
        gatedStream = undefined;
        gatedMaxBuffered = 0;
        const subject = new Subject<number>();
        const result = small.invoke('gated', subject);
        const sent = Array.from({ length: 40 }, (_, i) => i);
        for (const x of sent) subject.next(x);
        subject.complete();
        await waitFor(() => gatedBuffered() === 5, 5_000, 'the buffer to fill');
        // The client sent all 40 at once; the server took 5 and holds the rest back unread (the
        // read loop waits, as the reference's does). Give the rest time to arrive, then count.
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(gatedBuffered(), 5, 'never more than the capacity');
        gate.resolve();
        assert.deepEqual(await within(result), sent, 'every item, in order');
        assert.ok(gatedMaxBuffered <= 5, `up to ${gatedMaxBuffered} items were buffered`);
        assert.equal(await small.invoke('echo', 'fine'), 'fine');
      } finally {
        await small.stop();
      }
    });

    test('a disconnect ends a method that reads an upload stream', async () => {
      const tag = `${name}-disconnect`;
      const leaving = await connectClient(`${server.baseUrl}/upload`, { protocol });
      const subject = new Subject<string>();
      leaving.invoke('watched', tag, subject).catch(() => undefined);
      subject.next('one');
      await waitFor(() => started.has(tag), 5_000, 'the first item');
      await leaving.stop();
      await waitFor(() => ended.has(tag), 5_000, 'the method to end');
    });
  });
}

describe('upload streams on the wire', () => {
  test('StreamItems and Completions for unknown stream ids are ignored', async () => {
    const raw = await RawClient.connect(`${server.baseUrl}/upload`);
    try {
      raw.send({ type: MessageType.StreamItem, invocationId: '99', item: 'lost' });
      raw.send({ type: MessageType.Completion, invocationId: '98', hasResult: false });
      raw.send({
        type: MessageType.Invocation,
        invocationId: '1',
        target: 'concat',
        arguments: [],
        streamIds: ['2'],
      });
      raw.send(
        { type: MessageType.StreamItem, invocationId: '2', item: 'a' },
        { type: MessageType.StreamItem, invocationId: '3', item: 'not mine' },
        { type: MessageType.StreamItem, invocationId: '2', item: 'b' },
        { type: MessageType.Completion, invocationId: '2', hasResult: false },
      );
      const completion = await raw.waitForMessage((m) => m.type === MessageType.Completion);
      assert.deepEqual(completion, {
        type: MessageType.Completion,
        invocationId: '1',
        hasResult: true,
        result: 'ab',
      });
    } finally {
      raw.close();
      await raw.waitForClose();
    }
  });
});
