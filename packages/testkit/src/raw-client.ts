import {
  type HandshakeResponse,
  type HubMessage,
  jsonHubProtocol,
  MessageType,
  parseHandshakeResponse,
  writeHandshakeRequest,
} from '@switchboard/protocol';
import WebSocket from 'ws';
import { within } from './clients.js';

/** What a negotiate request got back. */
export interface NegotiateResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body as text. */
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: Record<string, unknown> | undefined;
}

/**
 * POSTs `{hubUrl}/negotiate` (query kept) with `query` appended, as the official client does, and
 * returns the raw answer. `query` defaults to `negotiateVersion=1`; pass '' for a version-0 client.
 */
export async function negotiate(
  hubUrl: string,
  query = 'negotiateVersion=1',
  init: RequestInit = {},
): Promise<NegotiateResponse> {
  const url = new URL(hubUrl);
  url.pathname = url.pathname.endsWith('/') ? `${url.pathname}negotiate` : `${url.pathname}/negotiate`;
  if (query) url.search = url.search ? `${url.search}&${query}` : `?${query}`;
  const response = await fetch(url, { method: 'POST', ...init });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A WebSocket upgrade the server refused with an HTTP answer. */
export class UpgradeRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    /** The answer's headers (lower-case names). */
    readonly headers?: Record<string, string | string[] | undefined>,
  ) {
    super(`The server refused the WebSocket upgrade with ${status}: ${body}`);
    this.name = 'UpgradeRefusedError';
  }
}

/** Options of {@link RawClient.connect}. */
export interface RawClientOptions {
  /**
   * The `id` to put on the WebSocket URL. Default: negotiate (version 1) and use the token;
   * `null` sends no id at all (what `skipNegotiation: true` does).
   */
  id?: string | null;
  /** Extra query parameters for the WebSocket URL. */
  query?: Record<string, string>;
  /** Extra request headers for the upgrade. */
  headers?: Record<string, string>;
  /**
   * What to send once the socket is open: a JSON handshake by default, any raw text or bytes, or
   * `false` for nothing. `connect` waits for the handshake reply only with the default.
   */
  handshake?: string | Uint8Array | false;
  /**
   * The socket resumes a stateful-reconnect connection (docs/protocol.md#resuming): no handshake is
   * sent (unless `handshake` says otherwise) and none is expected; every frame holds hub messages.
   */
  resumed?: boolean;
}

/** A frame the server sent. */
export interface RawFrame {
  readonly data: Buffer;
  readonly binary: boolean;
}

/** How the WebSocket closed. */
export interface RawClose {
  readonly code: number;
  readonly reason: string;
}

type Waiter = { predicate: (m: HubMessage) => boolean; resolve: (m: HubMessage) => void };

/**
 * A bare SignalR client over `ws` that speaks the JSON hub protocol by hand, for tests that need
 * to do what the official client never does: send malformed bytes, stop reading, skip pings,
 * split or batch messages. It records every frame and every parsed message. Each server frame is
 * parsed on its own, as the official client does, so a frame holding part of a message shows up
 * in {@link parseErrors}.
 *
 * @example
 * ```ts
 * const raw = await RawClient.connect(`${server.baseUrl}/echo`);
 * raw.send({ type: MessageType.Invocation, invocationId: '1', target: 'echo', arguments: ['hi'] });
 * const completion = await raw.waitForMessage((m) => m.type === MessageType.Completion);
 * ```
 */
export class RawClient {
  /** Every frame received, in order. */
  readonly frames: RawFrame[] = [];
  /** Every hub message received after the handshake reply, in order. */
  readonly messages: HubMessage[] = [];
  /** Frames that did not parse as whole messages. */
  readonly parseErrors: Error[] = [];
  /** The handshake reply, once it arrived. */
  handshakeResponse: HandshakeResponse | undefined;
  /** Settles with the WebSocket close code and reason. */
  readonly closed: Promise<RawClose>;
  private closeInfo: RawClose | undefined;
  private readonly waiters = new Set<Waiter>();
  private handshakeWaiters: ((response: HandshakeResponse) => void)[] = [];

  private constructor(
    /** The underlying socket. */
    readonly ws: WebSocket,
    /** The public connection id from negotiate, when there was one. */
    readonly connectionId: string | undefined,
    /** The token used as `id`, when there was one. */
    readonly connectionToken: string | undefined,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {
      // 'close' follows; tests look at the close.
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
  }

  /**
   * Negotiates (unless told otherwise), opens the WebSocket and sends the handshake. Rejects with
   * {@link UpgradeRefusedError} when the server answers the upgrade with an HTTP status.
   */
  static async connect(hubUrl: string, options: RawClientOptions = {}): Promise<RawClient> {
    let connectionId: string | undefined;
    let token: string | undefined;
    if (options.id === undefined) {
      const reply = await negotiate(hubUrl);
      if (reply.status !== 200 || !reply.json || typeof reply.json.connectionToken !== 'string') {
        throw new Error(`Negotiate failed with ${reply.status}: ${reply.text}`);
      }
      connectionId = reply.json.connectionId as string;
      token = reply.json.connectionToken;
    } else if (options.id !== null) {
      token = options.id;
    }
    const url = new URL(hubUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token !== undefined) url.searchParams.set('id', token);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    const ws = new WebSocket(url, { headers: options.headers });
    const client = new RawClient(ws, connectionId, token);
    if (options.resumed) client.handshakeResponse = {};
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => reject(new UpgradeRefusedError(res.statusCode ?? 0, body, res.headers)));
        res.on('error', () => reject(new UpgradeRefusedError(res.statusCode ?? 0, body, res.headers)));
      });
      ws.once('error', reject);
    });
    const handshake =
      options.handshake ?? (options.resumed ? false : writeHandshakeRequest('json', 1).toString('utf8'));
    if (handshake !== false) client.sendRaw(handshake);
    if (options.handshake === undefined && !options.resumed) {
      const response = await client.handshake();
      if (response.error) throw new Error(`Handshake failed: ${response.error}`);
    }
    return client;
  }

  /** Resolves with the handshake reply (at once if it arrived), or rejects after `timeoutMs`. */
  handshake(timeoutMs = 5_000): Promise<HandshakeResponse> {
    if (this.handshakeResponse) return Promise.resolve(this.handshakeResponse);
    return within(
      new Promise<HandshakeResponse>((resolve) => this.handshakeWaiters.push(resolve)),
      timeoutMs,
      'the handshake reply',
    );
  }

  /** Sends text (a text frame) or bytes (a binary frame unless `binary` is false). */
  sendRaw(data: string | Uint8Array, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  /** Sends hub messages, JSON-encoded, in one text frame. */
  send(...messages: HubMessage[]): void {
    const bytes = Buffer.concat(messages.map((m) => jsonHubProtocol.writeMessage(m)));
    this.sendRaw(bytes.toString('utf8'));
  }

  /** Sends a Ping (what arms the server's client timeout). */
  ping(): void {
    this.send({ type: MessageType.Ping });
  }

  /** Invokes `target` and resolves with the Completion message. */
  async invoke(target: string, args: unknown[] = [], invocationId = nextId()): Promise<HubMessage> {
    const completion = this.waitForMessage(
      (m) => m.type === MessageType.Completion && m.invocationId === invocationId,
      5_000,
      `the completion of ${target}`,
    );
    this.send({ type: MessageType.Invocation, invocationId, target, arguments: args });
    return completion;
  }

  /**
   * Resolves with the first message, received so far or later, that matches `predicate`;
   * rejects after `timeoutMs`.
   */
  waitForMessage(
    predicate: (m: HubMessage) => boolean,
    timeoutMs = 5_000,
    what = 'a message',
  ): Promise<HubMessage> {
    const found = this.messages.find(predicate);
    if (found) return Promise.resolve(found);
    let waiter!: Waiter;
    const promise = new Promise<HubMessage>((resolve) => {
      waiter = { predicate, resolve };
      this.waiters.add(waiter);
    });
    return within(promise, timeoutMs, what).finally(() => this.waiters.delete(waiter));
  }

  /** Resolves with the close code and reason, or rejects after `timeoutMs`. */
  waitForClose(timeoutMs = 5_000): Promise<RawClose> {
    return within(this.closed, timeoutMs, 'the WebSocket to close');
  }

  /** Whether the socket has closed. */
  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Messages of one type. */
  ofType(type: number): HubMessage[] {
    return this.messages.filter((m) => m.type === type);
  }

  /** Closes the socket with a close frame (`code` defaults to 1000). */
  close(code = 1000): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code);
    }
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }

  private onFrame(data: Buffer, binary: boolean): void {
    this.frames.push({ data, binary });
    let rest: Buffer = data;
    try {
      if (!this.handshakeResponse) {
        const parsed = parseHandshakeResponse(rest);
        if (!parsed) throw new Error('Message is incomplete.');
        this.handshakeResponse = parsed.response;
        for (const resolve of this.handshakeWaiters.splice(0)) resolve(parsed.response);
        rest = rest.subarray(parsed.consumed);
        if (rest.length === 0) return;
      }
      const { messages, consumed } = jsonHubProtocol.parseMessages(rest);
      if (consumed !== rest.length) throw new Error('Message is incomplete.');
      for (const message of messages) {
        this.messages.push(message);
        for (const waiter of [...this.waiters]) {
          if (waiter.predicate(message)) {
            this.waiters.delete(waiter);
            waiter.resolve(message);
          }
        }
      }
    } catch (error) {
      this.parseErrors.push(error as Error);
    }
  }
}

let idCounter = 0;
function nextId(): string {
  return `raw-${++idCounter}`;
}
