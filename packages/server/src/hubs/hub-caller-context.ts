import type { Principal } from '../auth/authentication.js';
import type { HttpRequestInfo } from '../http/http-request-info.js';

/**
 * What a hub method knows about the connection that called it (ASP.NET's HubCallerContext).
 */
export interface HubCallerContext {
  /** The public connection id (what `clients.client(id)` takes); never the secret token. */
  readonly connectionId: string;
  /** The user id, when the connection is authenticated. */
  readonly userIdentifier: string | undefined;
  /** The authenticated user, with claims and roles, or undefined when anonymous. */
  readonly user: Principal | undefined;
  /** State that lives as long as the connection, for hub code to keep per-connection data. */
  readonly items: Map<unknown, unknown>;
  /** The request that opened the transport (WebSocket upgrade): headers, query, remote address. */
  readonly request: HttpRequestInfo;
  /** The transport in use: `WebSockets`, `ServerSentEvents` or `LongPolling`. */
  readonly transport: string;
  /** The hub protocol in use: `json` or `messagepack`. */
  readonly protocol: string;
  /** Aborted when the connection ends, for any reason. */
  readonly connectionAborted: AbortSignal;
  /**
   * Ends the connection: the client gets a Close message without `allowReconnect`, so an official
   * client with automatic reconnect does not come back on its own.
   */
  abort(): void;
}
