// The .NET, Java and Swift clients, byte for byte: conformance/fixtures/clients/*.json hold what
// each of them sends during negotiate, the handshake, invocations, streams and close, and what it
// requires of the answers, transcribed from those clients' own sources and tests (each file names
// them; see the README there). Each fixture is replayed here against the conformance server over
// plain HTTP and a raw WebSocket, and the server's answers are checked against those requirements.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { decode } from '@msgpack/msgpack';
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

/** A MessagePack message (an array): equal to `array`, or starting with `prefix`, a string at `stringAt`. */
interface BinaryExpectation {
  array?: unknown[];
  prefix?: unknown[];
  stringAt?: number;
  length?: number;
}

interface Exchange {
  name: string;
  send?: string[];
  /** Binary frames, base64 (MessagePack messages with their varint length prefix). */
  sendBase64?: string[];
  expectExact?: string;
  expect?: (Expectation & BinaryExpectation)[];
  ignore?: (Expectation & BinaryExpectation)[];
  close?: number;
}

interface Fixture {
  client: string;
  /** `messagepack` for a binary connection; JSON otherwise. */
  protocol?: string;
  /** The unframed baselines of the client's tests that the messages follow, with their decoding. */
  baselines?: { name: string; base64: string; decoded: unknown[] }[];
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

function binaryFailures(message: unknown, e: BinaryExpectation): string[] {
  if (!Array.isArray(message)) return [`not an array: ${JSON.stringify(message)}`];
  const out: string[] = [];
  const equal = (a: unknown, b: unknown) => {
    try {
      assert.deepEqual(a, b);
      return true;
    } catch {
      return false;
    }
  };
  if (e.array && !equal(message, e.array)) out.push(`expected ${JSON.stringify(e.array)}`);
  if (e.prefix && !equal(message.slice(0, e.prefix.length), e.prefix))
    out.push(`expected ${JSON.stringify(e.prefix)}...`);
  if (e.stringAt !== undefined && (typeof message[e.stringAt] !== 'string' || message[e.stringAt] === ''))
    out.push(`no string at ${e.stringAt}`);
  if (e.length !== undefined && message.length !== e.length)
    out.push(`length ${message.length}, expected ${e.length}`);
  return out;
}

/**
 * A raw WebSocket. The handshake answer is a JSON record ended by 0x1E; after it a JSON connection
 * reads 0x1E-terminated records from text frames, a MessagePack one varint-prefixed messages from
 * binary frames.
 */
class Socket {
  private buffer = Buffer.alloc(0);
  private handshakeDone = false;
  private waiting: (() => void) | undefined;
  closed: { code: number } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly binary: boolean,
  ) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (this.handshakeDone) {
        assert.equal(isBinary, binary, `${binary ? 'binary' : 'text'} frames after the handshake`);
      }
      this.buffer = Buffer.concat([this.buffer, data]);
      this.waiting?.();
    });
    ws.on('close', (code) => {
      this.closed = { code };
      this.waiting?.();
    });
  }

  private take(): string | unknown[] | undefined {
    if (!this.handshakeDone || !this.binary) {
      const end = this.buffer.indexOf(0x1e);
      if (end === -1) return undefined;
      const record = this.buffer.subarray(0, end).toString('utf8');
      this.buffer = this.buffer.subarray(end + 1);
      this.handshakeDone = true;
      return record;
    }
    let length = 0;
    let shift = 0;
    for (let i = 0; i < Math.min(this.buffer.length, 5); i++) {
      const byte = this.buffer[i]!;
      length |= (byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) === 0) {
        if (this.buffer.length < i + 1 + length) return undefined;
        const message = decode(this.buffer.subarray(i + 1, i + 1 + length)) as unknown[];
        this.buffer = this.buffer.subarray(i + 1 + length);
        return message;
      }
    }
    return undefined;
  }

  async next(): Promise<string | unknown[]> {
    for (;;) {
      const record = this.take();
      if (record !== undefined) return record;
      if (this.closed) throw new Error(`the server closed the socket (${this.closed.code}) before answering`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
      this.waiting = undefined;
    }
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
    ['dotnet-messagepack.json', 'dotnet.json', 'java.json', 'swift.json'],
  );
  for (const [file, fixture] of fixtures) {
    assert.ok(fixture.sources.length >= 2, `${file} names its sources`);
    for (const source of fixture.sources) {
      assert.match(source.repo, /^dotnet\/(aspnetcore|signalr-client-swift)$/, `${file}: ${source.repo}`);
      assert.ok(source.path && source.what, `${file}: each source has a path and says what it gives`);
    }
    assert.ok(fixture.adapted.length > 0, `${file} says what was adapted to the test hub`);
    for (const baseline of fixture.baselines ?? [])
      assert.deepEqual(
        decode(Buffer.from(baseline.base64, 'base64')),
        baseline.decoded,
        `${file}: the baseline ${baseline.name} has the layout the fixture follows`,
      );
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
    const binary = fixture.protocol === 'messagepack';
    const socket = new Socket(ws, binary);
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
        for (const frame of exchange.sendBase64 ?? [])
          ws.send(Buffer.from(frame, 'base64'), { binary: true });
        if (exchange.expectExact !== undefined) {
          assert.equal(`${await socket.next()}${RS}`, exchange.expectExact, where);
          continue;
        }
        const check = (message: string | unknown[], e: Expectation & BinaryExpectation) =>
          typeof message === 'string'
            ? failures(JSON.parse(message) as Record<string, unknown>, e)
            : binaryFailures(message, e);
        for (const expected of exchange.expect ?? []) {
          for (;;) {
            const message = await socket.next();
            // The server's keep-alive, whenever it falls.
            if (typeof message === 'string' ? JSON.parse(message).type === 6 : message[0] === 6) continue;
            if ((exchange.ignore ?? []).some((e) => check(message, e).length === 0)) continue;
            assert.deepEqual(check(message, expected), [], `${where}: got ${JSON.stringify(message)}`);
            break;
          }
        }
      }
    } finally {
      ws.terminate();
    }
  });
}
