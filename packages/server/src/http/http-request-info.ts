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
  /** The raw URL with `access_token` and `id` (the connection token) redacted, safe to log. */
  readonly safeUrl: string;
}

/** A read-only query string whose keys compare case-insensitively (docs/protocol.md#query-keys). */
export class CaseInsensitiveQuery {
  /** Every value by lower-case key, made the first time more than `get` is asked. */
  private values: Map<string, string[]> | undefined;

  constructor(private readonly search: URLSearchParams) {}

  /** The first value of `key`, or null. */
  get(key: string): string | null {
    // A scan, not the map: the server's own reads (`id`, `negotiateVersion`, `access_token`) each
    // look once at a query of a few keys.
    if (this.values !== undefined) return this.values.get(key.toLowerCase())?.[0] ?? null;
    const wanted = key.toLowerCase();
    for (const [k, value] of this.search) if (k.toLowerCase() === wanted) return value;
    return null;
  }

  /** Every value of `key`. */
  getAll(key: string): string[] {
    return this.byKey().get(key.toLowerCase()) ?? [];
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.byKey().has(key.toLowerCase());
  }

  private byKey(): Map<string, string[]> {
    if (this.values !== undefined) return this.values;
    const values = new Map<string, string[]>();
    for (const [key, value] of this.search) {
      const k = key.toLowerCase();
      const list = values.get(k);
      if (list) list.push(value);
      else values.set(k, [value]);
    }
    this.values = values;
    return values;
  }
}

/** Builds the {@link HttpRequestInfo} of a Node request; `url` is `request.url` parsed. */
export function requestInfoOf(request: IncomingMessage, url: URL): HttpRequestInfo {
  return new NodeRequestInfo(
    request.method ?? 'GET',
    request.headers,
    request.socket.remoteAddress,
    request.url ?? '',
    url,
  );
}

/**
 * Makes a request that will be kept for the life of its connection smaller: its headers are kept
 * as one string (Node's header object is a map of many small strings) and read back into an object
 * when first asked for again; the parsed URL is let go. Nothing for a request of another kind.
 */
export function compactRequestInfo(info: HttpRequestInfo): void {
  if (info instanceof NodeRequestInfo) info.compact();
}

/**
 * A request kept for the life of its connection, so kept small: only the raw URL is stored, and
 * the query map and the redacted URL are derived from it each time they are asked for (a parsed
 * query kept after the upgrade's one look at `id` would cost every idle connection its map). While
 * the request is served, the URL the server parsed to route it answers the query; once the
 * connection runs, {@link compact} keeps the headers as one JSON string, parsed again (once) only
 * if they are read.
 */
class NodeRequestInfo implements HttpRequestInfo {
  /** Node's header object, or (compacted) its JSON, or the object parsed back from that JSON. */
  private headerData: IncomingHttpHeaders | string;
  /** The URL parsed for routing, until {@link compact}. */
  private parsed: URL | undefined;

  constructor(
    readonly method: string,
    headers: IncomingHttpHeaders,
    readonly remoteAddress: string | undefined,
    private readonly rawUrl: string,
    parsed: URL,
  ) {
    this.headerData = headers;
    this.parsed = parsed;
  }

  get path(): string {
    return (this.parsed ?? parseRequestUrl(this.rawUrl)).pathname;
  }

  get headers(): IncomingHttpHeaders {
    const data = this.headerData;
    if (typeof data !== 'string') return data;
    const headers = JSON.parse(data) as IncomingHttpHeaders;
    this.headerData = headers;
    return headers;
  }

  get query(): CaseInsensitiveQuery {
    return new CaseInsensitiveQuery(this.parsed ? this.parsed.searchParams : searchParamsOf(this.rawUrl));
  }

  get safeUrl(): string {
    return redactRequestUrl(this.rawUrl);
  }

  compact(): void {
    this.parsed = undefined;
    if (typeof this.headerData === 'string') return;
    // JSON.stringify builds its result from pieces; a copy through bytes is one flat string, which
    // is what makes the compact form small (JSON escapes lone surrogates, so the copy is exact).
    this.headerData = Buffer.from(JSON.stringify(this.headerData), 'utf8').toString('utf8');
  }
}

/** The query of a raw request URL, parsed as the server parses the URL it routes on. */
function searchParamsOf(rawUrl: string): URLSearchParams {
  if (!rawUrl.includes('?')) return new URLSearchParams();
  try {
    return new URL(rawUrl, 'http://localhost').searchParams;
  } catch {
    return new URLSearchParams();
  }
}

/** A raw request URL parsed as the server parsed it to route the request (it parsed then). */
function parseRequestUrl(rawUrl: string): URL {
  return new URL(rawUrl, 'http://localhost');
}

/**
 * `url` with the values of the secrets a hub URL can carry replaced by `[redacted]`: `access_token`
 * (a bearer token) and `id` (the connection token, which lets its holder take over the
 * connection; docs/protocol.md#connection-ids). Keys match case-insensitively, as the server reads them.
 */
export function redactRequestUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const hash = url.indexOf('#', start);
  const end = hash === -1 ? url.length : hash;
  const query = url
    .slice(start + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      // The key as the server reads it: '+' is a space and escapes are decoded (URLSearchParams).
      let key = pair.slice(0, eq).replace(/\+/g, ' ');
      try {
        key = decodeURIComponent(key);
      } catch {
        // a malformed escape: compare the raw key
      }
      return SECRET_KEYS.has(key.toLowerCase()) ? `${pair.slice(0, eq)}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, start + 1)}${query}${url.slice(end)}`;
}

const SECRET_KEYS = new Set(['access_token', 'id']);
