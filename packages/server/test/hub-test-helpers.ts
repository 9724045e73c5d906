/**
 * Small helpers shared by the hub end-to-end tests (hub-*.test.ts): many official clients at once,
 * per-client message logs closed by a sentinel (to prove that nobody received a message, and that
 * nobody received it twice), and a bare WebSocket client that does the handshake by hand.
 */
import type { HubConnection } from '@microsoft/signalr';
import { type ClientOptions, connectClient, waitFor } from '@switchboard/testkit';
import WebSocket from 'ws';

/** The last message every log waits for; anything before it was delivered, anything absent was not. */
export const END = '#end';

/** Starts `count` official clients on `url`. */
export function connectMany(
  url: string,
  count: number,
  options: ClientOptions = {},
): Promise<HubConnection[]> {
  return Promise.all(Array.from({ length: count }, () => connectClient(url, options)));
}

/** Stops every client, ignoring the ones already stopped. */
export async function stopAll(clients: readonly HubConnection[]): Promise<void> {
  await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
}

/** One log per client of the first argument of every `method` call it received. */
export interface Logs {
  readonly logs: unknown[][];
  /** Waits until every log ends with {@link END}. */
  settle(timeoutMs?: number): Promise<void>;
  /** Empties every log. */
  clear(): void;
}

/** Records what each client receives on `method` (a client method name, matched ignoring case). */
export function record(clients: readonly HubConnection[], method = 'm'): Logs {
  const logs = clients.map(() => [] as unknown[]);
  clients.forEach((client, i) => {
    client.on(method, (value: unknown) => logs[i]!.push(value));
  });
  return {
    logs,
    settle: (timeoutMs = 5_000) =>
      waitFor(() => logs.every((log) => log.at(-1) === END), timeoutMs, 'every client to get the sentinel'),
    clear: () => {
      for (const log of logs) log.length = 0;
    },
  };
}

/** A bare JSON-protocol client over `ws` that did its handshake by hand. */
export interface RawHubClient {
  readonly ws: WebSocket;
  /** The public connection id from negotiate. */
  readonly connectionId: string;
  /** Every hub message received after the handshake reply. */
  readonly messages: Record<string, unknown>[];
  /** Settles when the socket closes. */
  readonly closed: Promise<void>;
  /** Sends raw text as one frame. */
  sendText(text: string): void;
  /** Sends one JSON hub message. */
  send(message: Record<string, unknown>): void;
  /** Resolves with the first message (received so far or later) that matches. */
  waitFor(
    predicate: (m: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/**
 * Negotiates, opens the WebSocket and completes a JSON handshake, with no help from the official
 * client, so that a test can do what that client never does (cut the socket, send a Close with an
 * error).
 */
export async function rawConnect(
  hubUrl: string,
  options: { headers?: Record<string, string> } = {},
): Promise<RawHubClient> {
  const headers = options.headers ?? {};
  const reply = await fetch(`${hubUrl}/negotiate?negotiateVersion=1`, { method: 'POST', headers });
  if (reply.status !== 200) throw new Error(`negotiate answered ${reply.status}`);
  const body = (await reply.json()) as { connectionId: string; connectionToken: string };
  const url = new URL(hubUrl);
  url.protocol = 'ws:';
  url.searchParams.set('id', body.connectionToken);
  const ws = new WebSocket(url, { headers });
  const messages: Record<string, unknown>[] = [];
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  ws.on('error', () => {
    // 'close' follows
  });
  let handshakeDone!: () => void;
  const handshake = new Promise<void>((resolve) => {
    handshakeDone = resolve;
  });
  let shaken = false;
  ws.on('message', (data: Buffer) => {
    for (const part of data.toString('utf8').split('\x1e')) {
      if (part === '') continue;
      const parsed = JSON.parse(part) as Record<string, unknown>;
      if (!shaken) {
        shaken = true;
        if (parsed.error) throw new Error(`handshake failed: ${String(parsed.error)}`);
        handshakeDone();
      } else {
        messages.push(parsed);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send('{"protocol":"json","version":1}\x1e');
  await handshake;
  const client: RawHubClient = {
    ws,
    connectionId: body.connectionId,
    messages,
    closed,
    sendText: (text) => ws.send(text),
    send: (message) => ws.send(`${JSON.stringify(message)}\x1e`),
    async waitFor(predicate, timeoutMs = 5_000) {
      await waitFor(() => messages.some(predicate), timeoutMs, 'a matching message');
      return messages.find(predicate)!;
    },
  };
  return client;
}
