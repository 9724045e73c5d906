import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * The HTTP request that opened a connection, as hub code sees it (`context.request`): for
 * WebSockets the upgrade request. Query keys are looked up case-insensitively, as ASP.NET does.
 */
export interface HttpRequestInfo {
  /** The HTTP method. */
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** Request headers, lower-case names (Node's form). */
  readonly headers: IncomingHttpHeaders;
  /** The query string; `get` ignores the case of keys. */
  readonly query: CaseInsensitiveQuery;
  /** The peer's address as the socket saw it. */
  readonly remoteAddress: string | undefined;
  /** The raw URL with any `access_token` redacted, safe to log. */
  readonly safeUrl: string;
}

/** A read-only query string whose keys compare case-insensitively (signalr-protocol.md 1.4). */
export class CaseInsensitiveQuery {
  private readonly values = new Map<string, string[]>();

  constructor(search: URLSearchParams) {
    for (const [key, value] of search) {
      const k = key.toLowerCase();
      const list = this.values.get(k);
      if (list) list.push(value);
      else this.values.set(k, [value]);
    }
  }

  /** The first value of `key`, or null. */
  get(key: string): string | null {
    return this.values.get(key.toLowerCase())?.[0] ?? null;
  }

  /** Every value of `key`. */
  getAll(key: string): string[] {
    return this.values.get(key.toLowerCase()) ?? [];
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.values.has(key.toLowerCase());
  }
}

/** Builds the {@link HttpRequestInfo} of a Node request. */
export function requestInfoOf(request: IncomingMessage, url: URL, safeUrl: string): HttpRequestInfo {
  return {
    method: request.method ?? 'GET',
    path: url.pathname,
    headers: request.headers,
    query: new CaseInsensitiveQuery(url.searchParams),
    remoteAddress: request.socket.remoteAddress,
    safeUrl,
  };
}
