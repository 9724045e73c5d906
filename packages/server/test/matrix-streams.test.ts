// Streams and client results on every transport and protocol the official clients support
// (testkit's TRANSPORT_MATRIX): server-to-client streams (items in order, cancel, an error), upload
// streams (plain and bidirectional), and client results (a value, the client's error), with the
// official client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type IStreamResult, Subject } from '@microsoft/signalr';
import { Hub, type UploadStream } from '@switchboard/server';
import {
  connectClient,
  eachTransportAndProtocol,
  startTestServer,
  type TestServer,
  type TransportCell,
  waitFor,
} from '@switchboard/testkit';

const cancelled = new Set<string>();

class StreamsHub extends Hub {
  async *counter(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  async *endless(tag: string) {
    try {
      for (let i = 0; ; i++) {
        yield i;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      cancelled.add(tag);
    }
  }
  async *failAfterTwo() {
    yield 1;
    yield 2;
    throw new Error('hidden');
  }
  async concat(stream: UploadStream<string>) {
    let text = '';
    for await (const part of stream) text += part;
    return text;
  }
  async *doubled(stream: UploadStream<number>) {
    for await (const x of stream) yield x * 2;
  }
  ask(question: string) {
    return this.clients.caller.invoke('answer', question);
  }
  async askOutcome(method: string) {
    try {
      return { value: await this.clients.caller.invoke(method) };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }
}

let server: TestServer;
let url: string;

before(async () => {
  server = await startTestServer((hubs) => hubs.mapHub('/streams', StreamsHub));
  url = `${server.baseUrl}/streams`;
});
after(() => server.close());

function collect<T>(stream: IStreamResult<T>, ms = 10_000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    const timer = setTimeout(() => reject(new Error(`stream not complete within ${ms} ms`)), ms);
    stream.subscribe({
      next: (item) => items.push(item),
      complete: () => {
        clearTimeout(timer);
        resolve(items);
      },
      error: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
  });
}

async function open(cell: TransportCell) {
  const client = await connectClient(url, cell.clientOptions({ noStart: true }));
  client.on('answer', (question: string) => `${question}!`);
  client.on('fail', () => {
    throw new Error('from callback');
  });
  await client.start();
  return client;
}

eachTransportAndProtocol((cell) => {
  test('server-to-client streams: items in order, an error, a cancel', { timeout: 30_000 }, async () => {
    const client = await open(cell);
    try {
      assert.deepEqual(await collect(client.stream<number>('counter', 50)), [
        ...Array.from({ length: 50 }, (_, i) => i),
      ]);
      assert.deepEqual(await collect(client.stream('counter', 0)), []);
      await assert.rejects(collect(client.stream('failAfterTwo')), {
        message: 'An error occurred on the server while streaming results.',
      });
      // Cancel: the client disposes its subscription, the server's generator ends.
      const tag = `cancel-${cell.name}`;
      const seen: number[] = [];
      const subscription = client.stream<number>('endless', tag).subscribe({
        next: (item) => seen.push(item),
        complete: () => {},
        error: () => {},
      });
      await waitFor(() => seen.length >= 3, 5_000, 'some items');
      subscription.dispose();
      await waitFor(() => cancelled.has(tag), 5_000, 'the generator to end');
      assert.deepEqual(seen.slice(0, 3), [0, 1, 2]);
      // The connection goes on.
      assert.deepEqual(await collect(client.stream('counter', 2)), [0, 1]);
    } finally {
      await client.stop();
    }
  });

  test('upload streams, plain and both ways', { timeout: 30_000 }, async () => {
    const client = await open(cell);
    try {
      const parts = new Subject<string>();
      const result = client.invoke('concat', parts);
      for (const part of ['a', 'b', 'c', 'é✓']) parts.next(part);
      parts.complete();
      assert.equal(await result, 'abcé✓');

      const numbers = new Subject<number>();
      const doubled = collect(client.stream<number>('doubled', numbers));
      for (let i = 1; i <= 20; i++) numbers.next(i);
      numbers.complete();
      assert.deepEqual(
        await doubled,
        Array.from({ length: 20 }, (_, i) => (i + 1) * 2),
      );
    } finally {
      await client.stop();
    }
  });

  test('client results: the value comes back, the client error reaches the hub', {
    timeout: 30_000,
  }, async () => {
    const client = await open(cell);
    try {
      assert.equal(await client.invoke('ask', 'why'), 'why!');
      assert.deepEqual(await client.invoke('askOutcome', 'fail'), { error: 'Error: from callback' });
      // Several in a row, and concurrent ones.
      const answers = await Promise.all(['a', 'b', 'c'].map((q) => client.invoke('ask', q)));
      assert.deepEqual(answers, ['a!', 'b!', 'c!']);
    } finally {
      await client.stop();
    }
  });
});
