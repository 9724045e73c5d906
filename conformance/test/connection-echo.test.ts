// The reference's ConnectionTests and WebSocketTests against `/echo` (docs/protocol.md#conformance):
// the official HttpConnection sends "Hello World!" and gets it back on every transport, then
// stop() closes with onclose undefined; a raw WebSocket gets its text echoed and a clean 1000.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import {
  HttpTransportType,
  type IHttpConnectionOptions,
  NullLogger,
  TransferFormat,
} from '@microsoft/signalr';
import type { ConformanceServer } from '@switchboard/conformance';
import { deferred } from '@switchboard/testkit';
import WebSocket from 'ws';
import { startQuietServer } from './helpers.ts';

/** The client's HttpConnection: not in the package index, as the reference tests also reach in for it. */
interface HttpConnectionLike {
  onreceive: ((data: string | ArrayBuffer) => void) | null;
  onclose: ((error?: Error) => void) | null;
  start(format: TransferFormat): Promise<void>;
  send(data: string | ArrayBuffer): Promise<void>;
  stop(error?: Error): Promise<void>;
}
const { HttpConnection } = createRequire(import.meta.url)(
  '@microsoft/signalr/dist/cjs/HttpConnection.js',
) as {
  HttpConnection: new (url: string, options: IHttpConnectionOptions) => HttpConnectionLike;
};

let server: ConformanceServer;
before(async () => {
  server = await startQuietServer();
});
after(() => server.close());

function withTimeout<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

for (const transport of [
  HttpTransportType.WebSockets,
  HttpTransportType.ServerSentEvents,
  HttpTransportType.LongPolling,
]) {
  test(`/echo over ${HttpTransportType[transport]}: "Hello World!" comes back, stop() closes cleanly`, {
    timeout: 15_000,
  }, async () => {
    const connection = new HttpConnection(`${server.url}/echo`, { transport, logger: NullLogger.instance });
    const received = deferred<string | ArrayBuffer>();
    const closed = deferred<Error | undefined>();
    connection.onreceive = (data) => received.resolve(data);
    connection.onclose = (error) => closed.resolve(error);
    await connection.start(TransferFormat.Text);
    await connection.send('Hello World!');
    assert.equal(await withTimeout(received.promise, 'the echo'), 'Hello World!');
    await connection.stop();
    assert.equal(await withTimeout(closed.promise, 'onclose'), undefined);
  });
}

test('/echo over WebSockets with the binary transfer format echoes bytes as bytes', {
  timeout: 15_000,
}, async () => {
  const connection = new HttpConnection(`${server.url}/echo`, {
    transport: HttpTransportType.WebSockets,
    logger: NullLogger.instance,
  });
  const received = deferred<string | ArrayBuffer>();
  connection.onreceive = (data) => received.resolve(data);
  await connection.start(TransferFormat.Binary);
  await connection.send(new Uint8Array([1, 2, 3, 0xff]).buffer);
  const data = await withTimeout(received.promise, 'the echo');
  assert.ok(data instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(data)], [1, 2, 3, 0xff]);
  await connection.stop();
});

test('a raw WebSocket to /echo with the negotiate cookie gets its text back and a clean 1000 close', {
  timeout: 15_000,
}, async () => {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/echo`, {
    headers: { Cookie: 'testCookie=testValue' },
  });
  const message = deferred<{ data: string; binary: boolean }>();
  const closed = deferred<{ code: number; wasClean: boolean }>();
  ws.onmessage = (event) =>
    message.resolve({ data: String(event.data), binary: typeof event.data !== 'string' });
  ws.onclose = (event) => closed.resolve({ code: event.code, wasClean: event.wasClean });
  await withTimeout(new Promise((resolve) => ws.once('open', resolve)), 'open');
  ws.send('message');
  assert.deepEqual(await withTimeout(message.promise, 'the echo'), { data: 'message', binary: false });
  ws.close();
  assert.deepEqual(await withTimeout(closed.promise, 'the close'), { code: 1000, wasClean: true });
});

test('a raw WebSocket to /echo without testCookie is ended at once (1000), nothing echoed', {
  timeout: 15_000,
}, async () => {
  // As the reference's EchoConnectionHandler: the suite's "honors withCredentials flag" tests rely on it.
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/echo`);
  const messages: unknown[] = [];
  const closed = deferred<{ code: number; wasClean: boolean }>();
  ws.onmessage = (event) => messages.push(event.data);
  ws.onclose = (event) => closed.resolve({ code: event.code, wasClean: event.wasClean });
  ws.on('open', () => ws.send('message'));
  assert.deepEqual(await withTimeout(closed.promise, 'the close'), { code: 1000, wasClean: true });
  assert.deepEqual(messages, []);
});

test('/echoredirect follows to /echo (HTTP 307 on negotiate)', { timeout: 15_000 }, async () => {
  const connection = new HttpConnection(`${server.url}/echoredirect`, {
    transport: HttpTransportType.LongPolling,
    logger: NullLogger.instance,
  });
  const received = deferred<string | ArrayBuffer>();
  connection.onreceive = (data) => received.resolve(data);
  await connection.start(TransferFormat.Text);
  await connection.send('Hello World!');
  assert.equal(await withTimeout(received.promise, 'the echo'), 'Hello World!');
  await connection.stop();
});
