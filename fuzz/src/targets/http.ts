/**
 * Fuzz targets over the long-polling and Server-Sent Events request handling
 * (packages/server/src/http): the input is what a client POSTs to a connection (the handshake and
 * hub messages, cut into one to three request bodies), sent to a real `HubServer` on a loopback
 * port after a real negotiate and first poll (or event stream). Invariants: every answer is one
 * the transport protocol allows (no 5xx, no hang), and what the server sends back is a handshake
 * reply followed by whole, well-formed hub messages. A second client then still gets through.
 * @module
 */
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type HubProtocol,
  jsonHubProtocol,
  messagePackHubProtocol,
  parseHandshakeRequest,
  parseHandshakeResponse,
} from '@switchboard/protocol';
import { Hub, HubServer, silentLogger } from '@switchboard/server';
import type { FuzzTarget } from '../engine.js';
import { catalogued, check } from '../invariants.js';

class FuzzHub extends Hub {
  Echo(value: unknown): unknown {
    return value;
  }

  Add(a: number, b: number): number {
    return a + b;
  }
}

const PATH = '/fuzz';
/** How long a request may take before it counts as a hang. */
const REQUEST_TIMEOUT_MS = 20_000;

interface Answer {
  status: number;
  body: Buffer;
}

/** One loopback server shared by both targets. */
class Loopback {
  private server: Server | undefined;
  private hubs: HubServer | undefined;
  private users = 0;
  readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  base = '';

  async open(): Promise<void> {
    if (this.users++ > 0) return;
    this.hubs = new HubServer({
      longPollTimeoutMs: 15,
      disconnectTimeoutMs: 2_000,
      logger: silentLogger,
    }).mapHub(PATH, FuzzHub, { maximumReceiveMessageSize: 256 });
    this.server = createServer();
    this.hubs.attach(this.server);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${PATH}`;
  }

  async close(): Promise<void> {
    if (--this.users > 0) return;
    await this.hubs?.close();
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  send(method: string, query: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.base}${query}`,
        { method, agent: this.agent, headers, timeout: REQUEST_TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${query} took over ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async negotiate(): Promise<string> {
    const answer = await this.send('POST', '/negotiate?negotiateVersion=1');
    check(answer.status === 200, `negotiate answered ${answer.status}`);
    return (JSON.parse(answer.body.toString()) as { connectionToken: string }).connectionToken;
  }
}

const loopback = new Loopback();

/** The request bodies an input is cut into, and whether they are sent as binary. */
function bodies(data: Buffer): { parts: Buffer[]; binary: boolean } {
  const header = data[0] ?? 0;
  const body = data.subarray(1);
  const count = 1 + (header % 3);
  const size = Math.ceil(body.length / count) || 1;
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) parts.push(body.subarray(at, at + size));
  return { parts, binary: (header & 0x80) !== 0 };
}

/** What the server sent: a handshake reply, then whole messages of the protocol it asked for. */
function checkServerBytes(sent: Buffer, requested: Buffer): void {
  if (sent.length === 0) return;
  const reply = catalogued(() => parseHandshakeResponse(sent));
  check(
    reply.ok && reply.value !== null,
    () => `the server's first bytes are no handshake reply: ${sent.toString('hex')}`,
  );
  const rest = sent.subarray(reply.value.consumed);
  if (reply.value.response.error !== undefined) {
    check(rest.length === 0, 'the server sent messages after refusing the handshake');
    return;
  }
  let asked = '';
  try {
    asked = parseHandshakeRequest(requested)?.request.protocol.toLowerCase() ?? '';
  } catch {
    // a malformed handshake was refused above
  }
  const protocol: HubProtocol = asked === 'messagepack' ? messagePackHubProtocol : jsonHubProtocol;
  const parsed = catalogued(() => protocol.parseMessages(rest));
  check(parsed.ok, () => `the server sent a malformed ${protocol.name} message: ${rest.toString('hex')}`);
  check(parsed.value.consumed === rest.length, 'the server sent half a message');
}

const ALLOWED_POST = new Set([200, 400, 404, 413]);

const SEEDS = [
  '\x00{"protocol":"json","version":1}\x1e{"type":1,"invocationId":"0","target":"Echo","arguments":["hi"]}\x1e',
  '\x01{"protocol":"json","version":1}\x1e{"type":1,"target":"add","arguments":[1,2]}\x1e{"type":6}\x1e{"type":7}\x1e',
  '\x02{"protocol":"json","version":1}\x1e{"type":1,"invocationId":"1","target":"Nope","arguments":[]}\x1e{"type":1,"invocationId":"2","target":"Add","arguments":[1]}\x1e',
  '\x80{"protocol":"messagepack","version":1}\x1e\x02\x91\x06\x0f\x96\x01\x80\xa1\x30\xa4Echo\x91\x01\x90',
  '\x00{"protocol":"json","version":1}\x1e{"type":1,"invocationId":"0","target":"Echo","arguments":["',
];
const DICTIONARY = [
  '{"protocol":"json","version":1}\u001e',
  '{"protocol":"messagepack","version":1}\u001e',
  '{"type":1,"invocationId":"9","target":"Echo","arguments":[1]}\u001e',
  '{"type":6}\u001e',
  '{"type":7}\u001e',
  '"target":"Add"',
  '\u001e',
];

/** Long polling: negotiate, first poll, the POSTs, a poll for the answers, DELETE. */
export const longPollingTarget: FuzzTarget = {
  name: 'long-polling',
  cover: ['/packages/server/src/', '/packages/protocol/src/'],
  maxLength: 600,
  dictionary: DICTIONARY,
  seeds: SEEDS.map((s) => Buffer.from(s, 'latin1')),
  setup: () => loopback.open(),
  teardown: () => loopback.close(),
  async run(data) {
    const { parts, binary } = bodies(data);
    const token = await loopback.negotiate();
    const id = `?id=${token}`;
    const first = await loopback.send('GET', id);
    check(first.status === 200 && first.body.length === 0, `the first poll answered ${first.status}`);
    const type = { 'Content-Type': binary ? 'application/octet-stream' : 'text/plain;charset=UTF-8' };
    for (const part of parts) {
      const answer = await loopback.send('POST', id, part, type);
      check(ALLOWED_POST.has(answer.status), `a POST answered ${answer.status}: ${answer.body}`);
    }
    const received: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const poll = await loopback.send('GET', `${id}&_=${i}`);
      check(poll.status === 200 || poll.status === 204, `a poll answered ${poll.status}: ${poll.body}`);
      if (poll.status === 204) break;
      received.push(poll.body);
    }
    checkServerBytes(Buffer.concat(received), Buffer.concat(parts));
    const end = await loopback.send('DELETE', id);
    check(end.status === 202 || end.status === 404, `DELETE answered ${end.status}`);
  },
};

/** Server-Sent Events: negotiate, the event stream, the POSTs, then the client goes away. */
export const serverSentEventsTarget: FuzzTarget = {
  name: 'server-sent-events',
  cover: ['/packages/server/src/', '/packages/protocol/src/'],
  maxLength: 600,
  dictionary: DICTIONARY,
  seeds: SEEDS.map((s) => Buffer.from(s, 'latin1')),
  setup: () => loopback.open(),
  teardown: () => loopback.close(),
  async run(data) {
    const { parts } = bodies(data);
    const token = await loopback.negotiate();
    const id = `?id=${token}`;
    const chunks: Buffer[] = [];
    let ended = false;
    const stream = await new Promise<import('node:http').ClientRequest>((resolve, reject) => {
      const req = request(`${loopback.base}${id}`, { headers: { Accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`the event stream answered ${res.statusCode}`));
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          ended = true;
        });
        res.on('error', () => {});
        resolve(req);
      });
      req.on('error', () => {});
      req.end();
    });
    for (const part of parts) {
      const answer = await loopback.send('POST', id, part, { 'Content-Type': 'text/plain;charset=UTF-8' });
      check(ALLOWED_POST.has(answer.status), `a POST answered ${answer.status}: ${answer.body}`);
    }
    // Let the answers to the last POST arrive.
    await new Promise((resolve) => setTimeout(resolve, ended ? 0 : 5));
    stream.destroy();
    const all = Buffer.concat(chunks).toString('utf8');
    check(all.startsWith(':\r\n'), 'the event stream does not open with a comment');
    // Whole events only: the stream may have been cut in the middle of one.
    const text = all.slice(3, Math.max(3, all.lastIndexOf('\r\n\r\n') + 4));
    const payloads: Buffer[] = [];
    for (const event of text.split('\r\n\r\n')) {
      if (event === '' || event === '\r\n') continue;
      const lines = event.split('\r\n');
      check(
        lines.every((l) => l.startsWith('data: ')),
        () => `an event line without "data: ": ${JSON.stringify(event)}`,
      );
      payloads.push(Buffer.from(lines.map((l) => l.slice(6)).join('\n'), 'utf8'));
    }
    checkServerBytes(Buffer.concat(payloads), Buffer.concat(parts));
  },
};
