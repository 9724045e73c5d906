/**
 * The upstream client: POSTs connection events and client invocations to the hub's URL template
 * with the reference's headers (`X-ASRS-Connection-Id`, `X-ASRS-User-Id`, `X-ASRS-Hub`,
 * `X-ASRS-Category`, `X-ASRS-Event`, `X-ASRS-Signature`, `X-ASRS-User-Claims`,
 * `X-ASRS-Client-Query`), a timeout, retries with backoff for the connection events, and a bound
 * on the response body.
 * @module
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '@switchboard/server';

/** The two categories of the reference. */
export type UpstreamCategory = 'connections' | 'messages';

/** One upstream request. */
export interface UpstreamRequest {
  readonly hub: string;
  readonly category: UpstreamCategory;
  readonly event: string;
  readonly connectionId: string;
  readonly userId: string | undefined;
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  readonly clientQuery: string;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** The upstream's answer. */
export interface UpstreamResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** Why an upstream request failed. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the upstream answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** What {@link UpstreamClient} needs. */
export interface UpstreamClientOptions {
  readonly secrets: readonly Uint8Array[];
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

/** Fills a URL template's `{hub}`, `{category}` and `{event}` (each URL-encoded). */
export function expandTemplate(template: string, hub: string, category: string, event: string): string {
  return template
    .replaceAll('{hub}', encodeURIComponent(hub))
    .replaceAll('{category}', encodeURIComponent(category))
    .replaceAll('{event}', encodeURIComponent(event));
}

/**
 * `X-ASRS-Signature`: `sha256=<hex HMAC-SHA256 of the connection id>` with each access key,
 * comma-separated (the reference signs with both its keys; an upstream accepts any one).
 */
export function upstreamSignature(secrets: readonly Uint8Array[], connectionId: string): string {
  return secrets
    .map((secret) => `sha256=${createHmac('sha256', secret).update(connectionId).digest('hex')}`)
    .join(',');
}

/** Sends upstream requests for one service. */
export class UpstreamClient {
  constructor(private readonly options: UpstreamClientOptions) {}

  /** One request: rejects with an {@link UpstreamError} on a network error, a timeout or a non-2xx status. */
  async send(template: string, request: UpstreamRequest, signal?: AbortSignal): Promise<UpstreamResponse> {
    const url = expandTemplate(template, request.hub, request.category, request.event);
    const headers: Record<string, string> = {
      'Content-Type': request.contentType,
      'X-ASRS-Connection-Id': request.connectionId,
      'X-ASRS-Hub': request.hub,
      'X-ASRS-Category': request.category,
      'X-ASRS-Event': request.event,
      'X-ASRS-Signature': upstreamSignature(this.options.secrets, request.connectionId),
    };
    if (request.userId) headers['X-ASRS-User-Id'] = request.userId;
    if (request.claims) headers['X-ASRS-User-Claims'] = encodeURIComponent(JSON.stringify(request.claims));
    if (request.clientQuery) headers['X-ASRS-Client-Query'] = request.clientQuery;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const combined = signal ? AbortSignal.any([timeout, signal]) : timeout;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers,
        body: request.body as Uint8Array<ArrayBuffer>,
        signal: combined,
      });
    } catch (error) {
      if (timeout.aborted) throw new UpstreamError(`no answer within ${this.options.timeoutMs} ms`);
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new UpstreamError(
        `${cause?.code ?? cause?.message ?? (error as Error).message} (${redact(url)})`,
      );
    }
    let body: Buffer;
    try {
      body = await readLimited(response, this.options.maxBodyBytes);
    } catch (error) {
      if (timeout.aborted) throw new UpstreamError(`no answer within ${this.options.timeoutMs} ms`);
      throw error;
    }
    if (response.status < 200 || response.status > 299) {
      throw new UpstreamError(`the upstream answered ${response.status}`, response.status);
    }
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', body };
  }

  /**
   * A connection event (`connected`, `disconnected`): retried `retries` times after a failure, the
   * delay doubling from `retryDelayMs`. Never rejects: a final failure is logged.
   */
  async sendEvent(template: string, request: UpstreamRequest): Promise<void> {
    let delay = this.options.retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(template, request);
        return;
      } catch (error) {
        const status = (error as UpstreamError).status;
        // A 4xx other than 408/429 will not change on a retry.
        const final =
          status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
        if (final || attempt >= this.options.retries) {
          this.options.logger.warn('service.upstream_event_failed', {
            code: 'SB_ERR_SVC_UPSTREAM_FAILED',
            hub: request.hub,
            event: request.event,
            connectionId: request.connectionId,
            attempts: attempt + 1,
            error: (error as Error).message,
          });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
  }
}

/** Reads a response body, refusing one over `limit` bytes. */
async function readLimited(response: Response, limit: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw new UpstreamError(`the upstream's answer is larger than ${limit} bytes`, response.status);
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => {});
      throw new UpstreamError(`the upstream's answer is larger than ${limit} bytes`, response.status);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** A URL without its query (which may hold a function key). */
function redact(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : `${url.slice(0, at)}?…`;
}
