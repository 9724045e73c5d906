// TestHub's streaming methods and the /clientresult/{connectionId} endpoint
// (docs/protocol.md#conformance), through the official client over WebSockets (JSON and
// MessagePack) and long polling.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpTransportType, type HubConnection, type IStreamResult, Subject } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import type { ConformanceServer } from '@switchboard/conformance';
import { deferred } from '@switchboard/testkit';
import { connect, startQuietServer, stopAll } from './helpers.ts';

let server: ConformanceServer;
let json: HubConnection;
let msgpack: HubConnection;
let longPolling: HubConnection;

before(async () => {
  server = await startQuietServer();
  json = await connect(server, '/testhub');
  msgpack = await connect(server, '/testhub', { protocol: new MessagePackHubProtocol() });
  longPolling = await connect(server, '/testhub', { transport: HttpTransportType.LongPolling });
});

after(async () => {
  await stopAll([json, msgpack, longPolling]);
  await server.close();
});

/** Collects a stream's items; rejects with its error. */
function collect<T>(stream: IStreamResult<T>): Promise<T[]> {
  const items: T[] = [];
  return new Promise((resolve, reject) => {
    stream.subscribe({
      next: (item) => items.push(item),
      complete: () => resolve(items),
      error: reject,
    });
  });
}

test('Stream yields "a", "b", "c", with either protocol and over long polling', async () => {
  for (const client of [json, msgpack, longPolling]) {
    assert.deepEqual(await collect(client.stream('Stream')), ['a', 'b', 'c']);
  }
});

test('EmptyStream completes with no items', async () => {
  assert.deepEqual(await collect(json.stream('EmptyStream')), []);
  assert.deepEqual(await collect(msgpack.stream('EmptyStream')), []);
});

test('streaming methods called with invoke, and Echo called with stream, get the reference texts', async () => {
  for (const name of ['EmptyStream', 'Stream']) {
    await assert.rejects(json.invoke(name), {
      message: `The client attempted to invoke the streaming '${name}' method with a non-streaming invocation.`,
    });
  }
  await assert.rejects(collect(json.stream('Echo', '42')), {
    message: "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation.",
  });
});

test('StreamThrowException fails before the stream starts, with the InvalidOperationException text', async () => {
  for (const client of [json, msgpack]) {
    await assert.rejects(collect(client.stream('StreamThrowException', 'An error occurred.')), {
      message:
        "An unexpected error occurred invoking 'StreamThrowException' on the server. InvalidOperationException: An error occurred.",
    });
  }
});

test('InfiniteStream streams until cancelled, then the caller gets StreamCanceled() with no arguments', async () => {
  for (const client of [json, msgpack, longPolling]) {
    const canceled = deferred<unknown[]>();
    const onCanceled = (...args: unknown[]) => canceled.resolve(args);
    client.on('StreamCanceled', onCanceled);
    try {
      const items: number[] = [];
      const three = deferred();
      const subscription = client.stream<number>('InfiniteStream').subscribe({
        next: (item) => {
          items.push(item);
          if (items.length === 3) three.resolve();
        },
        complete: () => undefined,
        error: (error) => three.reject(error),
      });
      await three.promise;
      assert.deepEqual(items.slice(0, 3), [0, 1, 2]);
      subscription.dispose();
      assert.deepEqual(await canceled.promise, []);
      // The connection is still usable.
      assert.equal(await client.invoke('Echo', 'after'), 'after');
    } finally {
      client.off('StreamCanceled', onCanceled);
    }
  }
});

test('InfiniteStream cancelled at once (as the reference test does) still sends StreamCanceled', async () => {
  const canceled = deferred();
  json.on('StreamCanceled', () => canceled.resolve());
  try {
    json
      .stream('InfiniteStream')
      .subscribe({ next: () => undefined, complete: () => undefined, error: () => undefined })
      .dispose();
    await canceled.promise;
  } finally {
    json.off('StreamCanceled');
  }
});

test('StreamingConcat concatenates an upload stream', async () => {
  for (const client of [json, msgpack, longPolling]) {
    const subject = new Subject<string>();
    const result = client.invoke<string>('StreamingConcat', subject);
    subject.next('Hello ');
    subject.next('world');
    subject.next('!');
    subject.complete();
    assert.equal(await result, 'Hello world!');
  }
});

test('StreamingConcat whose upload ends with an error fails with the HubException text', async () => {
  for (const client of [json, msgpack]) {
    const subject = new Subject<string>();
    const result = client.invoke<string>('StreamingConcat', subject);
    subject.next('Hello ');
    subject.error(new Error('Something bad'));
    await assert.rejects(result, {
      message:
        "An unexpected error occurred invoking 'StreamingConcat' on the server. HubException: Something bad",
    });
  }
  assert.equal(await json.invoke('Echo', 'still there'), 'still there');
});

test('an upload stream never holds the read loop: StreamingConcat, then Echo, then the stream completes', async () => {
  // With one parallel invocation per client, an upload call that took the slot would keep Echo
  // waiting and, with it, the stream's items and end behind it: both calls would hang. As in the
  // reference, a call with upload streams takes no slot.
  for (const client of [json, msgpack, longPolling]) {
    const subject = new Subject<string>();
    const concat = client.invoke<string>('StreamingConcat', subject);
    subject.next('Hello ');
    const echo = client.invoke<string>('Echo', 'meanwhile');
    subject.next('world');
    subject.complete();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('StreamingConcat and Echo still pending after 5 s')), 5_000);
    });
    try {
      assert.deepEqual(await Promise.race([Promise.all([concat, echo]), hung]), ['Hello world', 'meanwhile']);
    } finally {
      clearTimeout(timer);
    }
  }
});

/** `GET /clientresult/<id>`: status and text. */
async function clientResult(connectionId: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}/clientresult/${encodeURIComponent(connectionId)}`);
  return { status: response.status, text: await response.text() };
}

test('/clientresult answers the number the client returns from Result', async () => {
  for (const client of [json, msgpack, longPolling]) {
    let calls = 0;
    const handler = (...args: unknown[]) => {
      calls++;
      assert.deepEqual(args, []);
      return 10;
    };
    client.on('Result', handler);
    try {
      assert.deepEqual(await clientResult(client.connectionId!), { status: 200, text: '10' });
      assert.equal(calls, 1);
    } finally {
      client.off('Result', handler);
    }
  }
});

test('/clientresult answers the error text when the handler throws', async () => {
  const handler = () => {
    throw new Error('from callback');
  };
  json.on('Result', handler);
  msgpack.on('Result', handler);
  try {
    assert.deepEqual(await clientResult(json.connectionId!), { status: 200, text: 'Error: from callback' });
    assert.deepEqual(await clientResult(msgpack.connectionId!), {
      status: 200,
      text: 'Error: from callback',
    });
  } finally {
    json.off('Result', handler);
    msgpack.off('Result', handler);
  }
});

test('/clientresult answers "Client didn\'t provide a result." when the client has no handler', async () => {
  assert.deepEqual(await clientResult(json.connectionId!), {
    status: 200,
    text: "Client didn't provide a result.",
  });
});

test('/clientresult for a connection that does not exist says so; only GET is served', async () => {
  assert.deepEqual(await clientResult('nope'), {
    status: 200,
    text: "Connection 'nope' does not exist.",
  });
  const post = await fetch(`${server.url}/clientresult/${json.connectionId}`, { method: 'POST' });
  assert.equal(post.status, 404);
  await post.body?.cancel();
});

test('/clientresult reaches connections of /testhub-nowebsockets too (one TestHub, as in .NET)', async () => {
  const other = await connect(server, '/testhub-nowebsockets');
  other.on('Result', () => 7);
  try {
    assert.equal(await other.invoke('GetActiveTransportName'), 'ServerSentEvents');
    assert.deepEqual(await clientResult(other.connectionId!), { status: 200, text: '7' });
  } finally {
    await other.stop();
  }
});
