// The request a connection keeps (context.request): once the connection runs, its headers are kept
// in a compact form and read back on demand, and what hub code reads stays what Node parsed
// (duplicates joined, set-cookie an array, latin1 values, case-insensitive query keys, the path).
// A socket that closes while the server waits for its headers is forgotten without a timeout.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Hub } from '@switchboard/server';
import { connectClient, startTestServer } from '@switchboard/testkit';
import { CaseInsensitiveQuery, compactRequestInfo, requestInfoOf } from '../src/http/http-request-info.ts';

interface Seen {
  headers: IncomingHttpHeaders;
  room: string | null;
  id: string | null;
  path: string;
  safeUrl: string;
  method: string;
  remoteAddress: string | undefined;
}

test('a compacted request answers headers, query, path and URL as Node parsed them', async () => {
  const seen: { before?: Seen; after?: Seen; same?: boolean } = {};
  const server = createServer((req, res) => {
    const info = requestInfoOf(req, new URL(req.url ?? '', 'http://localhost'));
    const read = (): Seen => ({
      headers: { ...info.headers },
      room: info.query.get('room'),
      id: info.query.get('ID'),
      path: info.path,
      safeUrl: info.safeUrl,
      method: info.method,
      remoteAddress: info.remoteAddress,
    });
    seen.before = read();
    compactRequestInfo(info);
    compactRequestInfo(info); // twice: no harm
    seen.after = read();
    const first = info.headers;
    seen.same = first === info.headers;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    const raw = [
      ['X-Dup', 'a'],
      ['x-dup', 'b'],
      ['Set-Cookie', 'one=1'],
      ['Set-Cookie', 'two=2'],
      ['Cookie', 'c=1'],
      ['Cookie', 'd=2'],
      ['User-Agent', 'first'],
      ['User-Agent', 'second'],
      ['X-Latin', 'caf\u00e9 "quoted" \\ back'],
    ];
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/Hub/Path/?Room=lobby&id=secret&x=%41' },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      for (const [name, value] of raw) req.appendHeader(name!, value!);
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
  const { before, after } = seen;
  assert.ok(before && after);
  assert.deepEqual(after, before);
  assert.equal(seen.same, true);
  assert.equal(after.headers['x-dup'], 'a, b');
  assert.deepEqual(after.headers['set-cookie'], ['one=1', 'two=2']);
  assert.equal(after.headers.cookie, 'c=1; d=2');
  assert.equal(after.headers['user-agent'], 'first');
  assert.equal(after.headers['x-latin'], 'caf\u00e9 "quoted" \\ back');
  assert.equal(after.room, 'lobby');
  assert.equal(after.id, 'secret');
  assert.equal(after.path, '/Hub/Path/');
  assert.equal(after.safeUrl, '/Hub/Path/?Room=lobby&id=[redacted]&x=%41');
  assert.equal(after.method, 'POST');
  assert.equal(after.remoteAddress, '127.0.0.1');
});

const connectedHeaders = new Map<string, string | null>();

class HeaderHub extends Hub {
  override onConnected() {
    connectedHeaders.set(this.context.connectionId, headerOf(this.context.request.headers, 'x-custom'));
  }
  header(name: string) {
    return headerOf(this.context.request.headers, name);
  }
  both() {
    return [this.context.request.query.get('ROOM'), this.context.request.path];
  }
}

function headerOf(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return value === undefined ? null : String(value);
}

test('a hub reads the headers in onConnected and in every call after (the GetHeader of a running connection)', async () => {
  const server = await startTestServer((h) => h.mapHub('/headers', HeaderHub));
  try {
    const c = await connectClient(`${server.baseUrl}/headers?room=blue`, {
      headers: { 'X-Custom': 'custom value', 'X-Other': 'other' },
    });
    try {
      assert.equal(connectedHeaders.get(c.connectionId!), 'custom value');
      // Read after the connection became idle (its request compacted), twice, and a second header.
      assert.equal(await c.invoke('header', 'x-custom'), 'custom value');
      assert.equal(await c.invoke('header', 'x-custom'), 'custom value');
      assert.equal(await c.invoke('header', 'x-other'), 'other');
      assert.equal(await c.invoke('header', 'x-missing'), null);
      assert.deepEqual(await c.invoke('both'), ['blue', '/headers']);
    } finally {
      await c.stop();
    }
  } finally {
    await server.close();
  }
});

test('a socket that closes before its request headers is forgotten, not timed out', async () => {
  const events: string[] = [];
  const record = (event: string) => events.push(event);
  const logger = { debug: record, info: record, warn: record, error: record };
  const server = await startTestServer((h) => h.mapHub('/headers', HeaderHub), {
    requestHeadersTimeoutMs: 200,
    logger,
  });
  try {
    const sockets = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<ReturnType<typeof connect>>((resolve, reject) => {
            const s = connect(server.port, '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    for (const s of sockets) s.destroy();
    // Past the deadline, and a few sweeps after it.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.deepEqual(
      events.filter((e) => e === 'http.request_headers_timeout'),
      [],
    );
    // The guard still works for a socket that stays silent.
    const silent = connect(server.port, '127.0.0.1');
    silent.on('error', () => undefined);
    silent.resume(); // read the 408, so that the close arrives
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`still open; events: ${events.join(' ')}`)), 3_000);
      silent.once('close', () => resolve(clearTimeout(timer)));
    });
    assert.deepEqual(
      events.filter((e) => e === 'http.request_headers_timeout'),
      ['http.request_headers_timeout'],
    );
  } finally {
    await server.close();
  }
});

test('a query answers any case of a key: the first value, every value in order, presence', () => {
  const search = () => new URLSearchParams('Room=a&x=1&ROOM=b&room=c&empty=');
  const scanned = new CaseInsensitiveQuery(search());
  assert.deepEqual(
    [scanned.get('room'), scanned.get('ROOM'), scanned.get('X'), scanned.get('empty'), scanned.get('none')],
    ['a', 'a', '1', '', null],
  );
  const mapped = new CaseInsensitiveQuery(search());
  assert.deepEqual(mapped.getAll('rOOm'), ['a', 'b', 'c']);
  assert.deepEqual(mapped.getAll('none'), []);
  assert.deepEqual([mapped.has('EMPTY'), mapped.has('none')], [true, false]);
  // After the map was made, `get` answers from it, the same.
  assert.deepEqual([mapped.get('room'), mapped.get('x'), mapped.get('none')], ['a', '1', null]);
});
