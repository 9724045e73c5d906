import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubServer, type HubServerOptions, silentLogger } from '@switchboard/server';

/** A hub server listening on an ephemeral loopback port. */
export interface TestServer {
  /** The hub server. */
  readonly hubs: HubServer;
  /** The Node HTTP server it is attached to. */
  readonly http: Server;
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** The port. */
  readonly port: number;
  /** Drains the hub server, then closes the HTTP server and every socket. */
  close(): Promise<void>;
}

/**
 * Starts a {@link HubServer} on `127.0.0.1:0` for a test. `configure` maps hubs; options default to
 * a silent logger.
 *
 * @example
 * ```ts
 * const server = await startTestServer((hubs) => hubs.mapHub('/echo', EchoHub));
 * try { ... } finally { await server.close(); }
 * ```
 */
export async function startTestServer(
  configure: (hubs: HubServer) => void,
  options: HubServerOptions = {},
  /** Serves requests that are not for a hub (returns false to answer 404). */
  requestHandler?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<TestServer> {
  const hubs = new HubServer({ logger: silentLogger, ...options });
  configure(hubs);
  const http = createServer((req, res) => {
    if (requestHandler?.(req, res)) return;
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
  });
  hubs.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    hubs,
    http,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await hubs.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
