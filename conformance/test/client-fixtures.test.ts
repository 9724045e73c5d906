// The .NET, Java and Swift clients, byte for byte: conformance/fixtures/clients/*.json hold what
// each of them sends during negotiate, the handshake, invocations, streams and close, and what it
// requires of the answers, transcribed from those clients' own sources and tests (each file names
// them; see the README there). Each fixture is replayed here against the conformance server over
// plain HTTP and a raw WebSocket, and the server's answers are checked against those requirements.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { ConformanceServer } from '@switchboard/conformance';
import WebSocket from 'ws';
import { startQuietServer } from './helpers.ts';

const RS = '\u001e';
const dir = new URL('../fixtures/clients/', import.meta.url);

/** What a record must be: `match` entries equal (deeply), `string` keys strings, `absent` keys missing. */
interface Expectation {
  match?: Record<string, unknown>;
  string?: string[];
  absent?: string[];
}

interface Exchange {
  name: string;
  send?: string[];
  expectExact?: string;
  expect?: Expectation[];
  ignore?: Expectation[];
  close?: number;
}

interface Fixture {
  client: string;
  sources: { repo: string; path: string; commit?: string; what: string }[];
  adapted: string;
  hub: string;
  negotiate: {
    method: string;
    query: string;
    headers: Record<string, string>;
    body: string;
    expect: Expectation & { transportsWithFormats: boolean; webSocketsFormat?: string };
  };
  exchanges: Exchange[];
}

const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Fixture] as const);

function failures(record: Record<string, unknown>, e: Expectation): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(e.match ?? {})) {
    try {
      assert.deepEqual(record[key], value);
    } catch {
      out.push(`${key} is ${JSON.stringify(record[key])}, expected ${JSON.stringify(value)}`);
    }
  }
  for (const key of e.string ?? [])
    if (typeof record[key] !== 'string' || record[key] === '') out.push(`${key} is not a non-empty string`);
  for (const key of e.absent ?? []) if (key in record) out.push(`${key} is present`);
  return out;
}

/** A raw WebSocket whose text frames are split into 0x1E-terminated records. */
class Socket {
  private readonly records: string[] = [];
  private waiting: (() => void) | undefined;
  closed: { code: number } | undefined;
  /** Every frame as received, to check framing. */
  readonly frames: string[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, false, 'the JSON protocol is sent in text frames');
      const text = data.toString();
      this.frames.push(text);
      assert.ok(text.endsWith(RS), `a frame ends with a whole record: ${JSON.stringify(text)}`);
      for (const record of text.split(RS).slice(0, -1)) this.records.push(record);
      this.waiting?.();
    });
    ws.on('close', (code) => {
      this.closed = { code };
      this.waiting?.();
    });
  }

  async next(): Promise<string> {
    while (this.records.length === 0) {
      if (this.closed) throw new Error(`the server closed the socket (${this.closed.code}) before answering`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
    return this.records.shift()!;
  }
}

let server: ConformanceServer;
before(async () => {
  server = await startQuietServer();
});
after(() => server.close());

test('the fixtures name their sources in the clients’ own repositories', () => {
  assert.deepEqual(
    fixtures.map(([f]) => f),
    ['dotnet.json', 'java.json', 'swift.json'],
  );
  for (const [file, fixture] of fixtures) {
    assert.ok(fixture.sources.length >= 2, `${file} names its sources`);
    for (const source of fixture.sources) {
      assert.match(source.repo, /^dotnet\/(aspnetcore|signalr-client-swift)$/, `${file}: ${source.repo}`);
      assert.ok(source.path && source.what, `${file}: each source has a path and says what it gives`);
    }
    assert.ok(fixture.adapted.length > 0, `${file} says what was adapted to the test hub`);
  }
});

for (const [file, fixture] of fixtures) {
  test(`${fixture.client} (${file}): negotiate, handshake, invocations, streams and close`, async () => {
    // Negotiate, as the client sends it.
    const base = new URL(server.url);
    const response = await fetch(`${server.url}${fixture.hub}/negotiate?${fixture.negotiate.query}`, {
      method: fixture.negotiate.method,
      headers: fixture.negotiate.headers,
      body: fixture.negotiate.body,
    });
    assert.equal(response.status, 200, `${file}: negotiate status`);
    const body = (await response.json()) as Record<string, unknown>;
    const expect = fixture.negotiate.expect;
    assert.deepEqual(failures(body, expect), [], `${file}: negotiate body ${JSON.stringify(body)}`);
    const transports = body.availableTransports as { transport: unknown; transferFormats: unknown }[];
    assert.ok(Array.isArray(transports) && transports.length > 0, `${file}: availableTransports`);
    for (const t of transports) {
      assert.equal(typeof t.transport, 'string');
      if (expect.transportsWithFormats)
        assert.ok(
          Array.isArray(t.transferFormats) && t.transferFormats.every((f) => typeof f === 'string'),
          `${file}: ${t.transport} has transferFormats`,
        );
    }
    const webSockets = transports.find((t) => t.transport === 'WebSockets');
    assert.ok(webSockets, `${file}: WebSockets offered`);
    if (expect.webSocketsFormat)
      assert.ok((webSockets.transferFormats as string[]).includes(expect.webSocketsFormat));

    // The WebSocket on the connect URL: the hub URL with id=<connectionToken> appended.
    const token = encodeURIComponent(String(body.connectionToken));
    const ws = new WebSocket(`ws://${base.host}${fixture.hub}?id=${token}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const socket = new Socket(ws);
    try {
      for (const exchange of fixture.exchanges) {
        const where = `${file} › ${exchange.name}`;
        if (exchange.close !== undefined) {
          ws.close(exchange.close);
          await new Promise<void>((resolve) =>
            socket.closed ? resolve() : ws.once('close', () => resolve()),
          );
          assert.ok([1000, 1005].includes(socket.closed!.code), `${where}: closed ${socket.closed!.code}`);
          continue;
        }
        for (const frame of exchange.send ?? []) ws.send(frame);
        if (exchange.expectExact !== undefined) {
          assert.equal(`${await socket.next()}${RS}`, exchange.expectExact, where);
          continue;
        }
        for (const expected of exchange.expect ?? []) {
          for (;;) {
            const text = await socket.next();
            const record = JSON.parse(text) as Record<string, unknown>;
            if (record.type === 6) continue; // the server's keep-alive, whenever it falls
            if ((exchange.ignore ?? []).some((e) => failures(record, e).length === 0)) continue;
            assert.deepEqual(failures(record, expected), [], `${where}: got ${text}`);
            break;
          }
        }
      }
    } finally {
      ws.terminate();
    }
  });
}
