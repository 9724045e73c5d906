/**
 * Raw HTTP for the Server-Sent Events and long-polling tests: negotiate, an event stream read
 * chunk by chunk, polls, POSTs and DELETEs, each with a timeout.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { negotiate, waitFor } from '@switchboard/testkit';

/** Negotiates (version 1) and returns the id and the token. */
export async function negotiated(
  hubUrl: string,
  init: RequestInit = {},
): Promise<{ id: string; token: string }> {
  const reply = await negotiate(hubUrl, 'negotiateVersion=1', init);
  if (reply.status !== 200 || !reply.json)
    throw new Error(`negotiate answered ${reply.status}: ${reply.text}`);
  return { id: reply.json.connectionId as string, token: reply.json.connectionToken as string };
}

/** An HTTP answer, body as bytes. */
export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
}

/** One request with a timeout (default 5 s). */
export async function http(url: string, init: RequestInit = {}, timeoutMs = 5_000): Promise<Answer> {
  const response = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body, text: body.toString('utf8') };
}

/** An event stream as it arrives. */
export interface EventStream {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** Every chunk as it came off the socket. */
  readonly chunks: string[];
  /** Everything so far. */
  text(): string;
  /** Waits until the text so far satisfies `predicate`. */
  until(predicate: (text: string) => boolean, what?: string, timeoutMs?: number): Promise<string>;
  /** Resolves when the server ended the response. */
  readonly ended: Promise<void>;
  /** Closes it from the client side (what EventSource.close() does). */
  close(): void;
}

/** `GET url` with `Accept: text/event-stream`; resolves once the status line is in. */
export function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const chunks: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => chunks.push(chunk));
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      const text = () => chunks.join('');
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        chunks,
        text,
        ended,
        async until(predicate, what = 'the event stream', timeoutMs = 5_000) {
          await waitFor(() => predicate(text()), timeoutMs, what);
          return text();
        },
        close: () => req.destroy(),
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('event stream request timed out')));
    req.on('error', reject);
    req.end();
  });
}
