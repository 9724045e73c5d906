/**
 * Slow and greedy clients at the HTTP level, on the server the hub server is attached to: a
 * deadline for a request's headers, a deadline for the body of a hub request, and a cap on the
 * sockets one client address holds at once (Kestrel's RequestHeadersTimeout, MinRequestBodyDataRate
 * and connection limits play these parts in the reference).
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { ServerErrorCode } from '../errors.js';
import type { SharedLimits } from '../limits/shared-limits.js';
import type { Logger } from '../logger.js';
import type { HubMetrics } from '../metrics.js';
import type { TimeProvider, TimerHandle } from '../time-provider.js';
import { clientAddress, normalizeIp, type TrustProxy } from './negotiate-limits.js';

/** The guard's settings, resolved from the server's options. */
export interface SocketGuardOptions {
  /** A socket whose request headers have not all arrived this long after it opened (or after its previous response) is closed. */
  readonly requestHeadersTimeoutMs: number;
  /** A hub request whose body has not all arrived this long after its headers is answered 408 and closed. */
  readonly requestBodyTimeoutMs: number;
  /** Sockets one client address may hold at once; undefined: no cap. */
  readonly maxSocketsPerIp: number | undefined;
  /** Behind trusted proxies the address comes from `X-Forwarded-For`, so sockets count per request. */
  readonly trustProxy: TrustProxy | undefined;
  readonly time: TimeProvider;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  /**
   * Where the socket counts live when processes share them (the workers of `clusterize`): a new
   * socket reads nothing until the primary has counted it (docs/server.md#limits-with-workers).
   */
  readonly sharedLimits?: SharedLimits | undefined;
}

const TIMEOUT_RESPONSE = Buffer.from(
  'HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  'latin1',
);
const TOO_MANY_TEXT = 'Too many connections from this address.';
const TOO_MANY_RESPONSE = Buffer.from(
  `HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: ${TOO_MANY_TEXT.length}\r\nConnection: close\r\n\r\n${TOO_MANY_TEXT}`,
  'latin1',
);

/**
 * Watches the sockets and requests of one HTTP server. Deadlines are checked by one timer (a
 * quarter of the shorter timeout, at most a second), not one timer per socket.
 */
export class SocketGuard {
  /** Sockets waiting for the headers of their next request, with their deadline. */
  private readonly awaitingHeaders = new Map<Socket, number>();
  /** Hub requests whose body is still arriving, with their deadline. */
  private readonly awaitingBodies = new Map<IncomingMessage, { res: ServerResponse; deadline: number }>();
  /** Open sockets per client address (only while a cap is set). */
  private readonly socketsPerIp = new Map<string, number>();
  /** The address each counted socket was counted under. */
  private readonly counted = new WeakMap<Socket, string>();
  /** Gives back a counted socket's place under its address (once). */
  private readonly releases = new WeakMap<Socket, () => void>();
  /** Sockets of signed hops from peer nodes: never counted again. */
  private readonly exempted = new WeakSet<Socket>();
  private timer: TimerHandle | undefined;

  private readonly servers = new WeakSet<Server>();
  /** The hub server closed: no timer starts again. */
  private disposed = false;
  /** Requests refused here (their socket is being closed): nothing else should answer them. */
  private readonly refused = new WeakSet<IncomingMessage>();

  /** Whether the per-address socket cap is counted in the primary, per socket. */
  private readonly sharedCap: boolean;

  constructor(private readonly options: SocketGuardOptions) {
    this.sharedCap =
      options.sharedLimits !== undefined &&
      options.maxSocketsPerIp !== undefined &&
      options.trustProxy === undefined;
  }

  /**
   * Starts watching `server`: its new sockets, and (before any other listener) the start of each
   * request and upgrade. Once per server.
   */
  attach(server: Server): void {
    if (this.servers.has(server)) return;
    this.servers.add(server);
    const tls = server instanceof TlsServer;
    if (this.sharedCap) {
      // Plain HTTP: a socket stays paused (its request unread) until the primary has counted it.
      if (!tls) (server as Server & { pauseOnConnect?: boolean }).pauseOnConnect = true;
      server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.countShared(socket, !tls));
    }
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.socketOpened(socket));
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) =>
      this.requestStarted(req, res),
    );
    server.prependListener('upgrade', (req: IncomingMessage) => this.requestStarted(req, undefined));
    this.startTimer();
  }

  /** Stops the timer for good (the sockets stay as they are). */
  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.awaitingHeaders.clear();
    this.awaitingBodies.clear();
  }

  /** Whether `req` was refused here (over the socket cap): its socket is closing. */
  wasRefused(req: IncomingMessage): boolean {
    return this.refused.has(req);
  }

  /** A hub request: its body must arrive within the body timeout. */
  watchBody(req: IncomingMessage, res: ServerResponse): void {
    if (req.complete || this.disposed) return;
    this.startTimer();
    this.awaitingBodies.set(req, {
      res,
      deadline: this.options.time.now() + this.options.requestBodyTimeoutMs,
    });
    req.once('close', () => this.awaitingBodies.delete(req));
  }

  private startTimer(): void {
    if (this.timer !== undefined || this.disposed) return;
    const { requestHeadersTimeoutMs, requestBodyTimeoutMs } = this.options;
    const every = Math.max(10, Math.min(1_000, Math.min(requestHeadersTimeoutMs, requestBodyTimeoutMs) / 4));
    this.timer = this.options.time.setInterval(() => this.sweep(), every);
  }

  /**
   * A request's headers arrived. Behind a trusted proxy, a client address over its socket cap is
   * known only now: the request is refused (see {@link wasRefused}).
   */
  private requestStarted(req: IncomingMessage, res: ServerResponse | undefined): void {
    const socket = req.socket;
    this.awaitingHeaders.delete(socket);
    if (this.options.maxSocketsPerIp !== undefined && this.options.trustProxy !== undefined) {
      if (
        !this.counted.has(socket) &&
        !this.exempted.has(socket) &&
        !this.count(socket, clientAddress(req, this.options.trustProxy))
      ) {
        this.refused.add(req);
        this.refuseTooMany(socket);
        return;
      }
    }
    if (res !== undefined) {
      // The next request on a kept-alive socket gets its own headers deadline.
      res.once('finish', () => {
        if (!socket.destroyed) {
          this.awaitingHeaders.set(socket, this.options.time.now() + this.options.requestHeadersTimeoutMs);
        }
      });
    }
  }

  /** How many sockets are counted for `address` on this process (for tests and diagnostics). */
  socketsOf(address: string): number {
    return this.socketsPerIp.get(normalizeIp(address)) ?? 0;
  }

  /**
   * Counts `socket` machine-wide (shared limits); a `paused` socket is resumed once counted. On
   * TLS the count is asked once the TLS handshake is done, and a refusal may come while the
   * first request is read: the socket is closed then.
   */
  private countShared(socket: Socket, paused: boolean): void {
    const address = normalizeIp(socket.remoteAddress ?? '');
    const key = `sockets\u0000${address}`;
    void this.options.sharedLimits!.acquire([{ key, cap: this.options.maxSocketsPerIp! }]).then((refused) => {
      if (refused >= 0) {
        // A peer's hop (known once its request came) is never refused.
        if (this.exempted.has(socket)) socket.resume();
        else this.refuseTooMany(socket);
        return;
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.options.sharedLimits!.release([key]);
      };
      this.counted.set(socket, address);
      this.releases.set(socket, release);
      if (socket.destroyed) return release();
      socket.once('close', release);
      if (this.exempted.has(socket)) release();
      if (paused) socket.resume();
    });
  }

  private socketOpened(socket: Socket): void {
    if (
      this.options.maxSocketsPerIp !== undefined &&
      this.options.trustProxy === undefined &&
      !this.sharedCap
    ) {
      if (!this.count(socket, normalizeIp(socket.remoteAddress ?? ''))) {
        this.refuseTooMany(socket);
        return;
      }
    }
    // No 'close' listener per socket (it would live as long as the socket, a WebSocket's whole
    // life): a socket that closes while it waits is dropped by the next sweep.
    this.awaitingHeaders.set(socket, this.options.time.now() + this.options.requestHeadersTimeoutMs);
  }

  /** Counts `socket` under `address`; false (uncounted) when the address is at its cap. */
  private count(socket: Socket, address: string): boolean {
    const held = this.socketsPerIp.get(address) ?? 0;
    if (held >= this.options.maxSocketsPerIp!) return false;
    this.socketsPerIp.set(address, held + 1);
    this.counted.set(socket, address);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.socketsPerIp.get(address) ?? 1) - 1;
      if (left <= 0) this.socketsPerIp.delete(address);
      else this.socketsPerIp.set(address, left);
    };
    this.releases.set(socket, release);
    socket.once('close', release);
    return true;
  }

  /**
   * A signed hop from a peer node came on `socket` (docs/scale-out.md#no-sticky-sessions): it
   * stops counting toward its address's `maxSocketsPerIp`, so that the sockets a peer holds for
   * the event streams and polls it forwards do not use up the cap of the address they share.
   */
  exempt(socket: Socket): void {
    if (this.exempted.has(socket)) return;
    this.exempted.add(socket);
    this.releases.get(socket)?.();
    this.releases.delete(socket);
  }

  /** The 429 goes straight to the socket, which closes: no listener after this one can answer. */
  private refuseTooMany(socket: Socket): void {
    this.report('SB_ERR_TOO_MANY_SOCKETS', 'http.too_many_sockets', socket);
    this.awaitingHeaders.delete(socket);
    endSocket(socket, TOO_MANY_RESPONSE);
  }

  private sweep(): void {
    const now = this.options.time.now();
    for (const [socket, deadline] of this.awaitingHeaders) {
      if (socket.destroyed) {
        this.awaitingHeaders.delete(socket);
        continue;
      }
      if (now < deadline) continue;
      this.awaitingHeaders.delete(socket);
      this.report('SB_ERR_REQUEST_TIMEOUT', 'http.request_headers_timeout', socket);
      endSocket(socket, TIMEOUT_RESPONSE);
    }
    for (const [req, { res, deadline }] of this.awaitingBodies) {
      if (req.complete) {
        this.awaitingBodies.delete(req);
        continue;
      }
      if (now < deadline) continue;
      this.awaitingBodies.delete(req);
      this.report('SB_ERR_REQUEST_TIMEOUT', 'http.request_body_timeout', req.socket);
      if (res.headersSent) {
        req.socket.destroy();
      } else {
        res.writeHead(408, { 'Content-Length': 0, Connection: 'close' });
        res.end(() => req.socket.destroy());
      }
    }
  }

  private report(code: ServerErrorCode, event: string, socket: Socket): void {
    this.options.metrics.error('', code);
    this.options.logger.debug(event, { address: socket.remoteAddress ?? '' });
  }
}

/** Writes a whole HTTP response straight to the socket, then closes it. */
function endSocket(socket: Socket, response: Buffer): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(response, () => socket.destroy());
  // A client that does not read gets no longer than this.
  setTimeout(() => socket.destroy(), 1_000).unref();
}
