/**
 * Forwarding between the nodes of a cluster (docs/scale-out.md#no-sticky-sessions): a transport
 * request that arrives on a node where its connection does not live goes to the node its token
 * names, by one HTTP hop signed with the cluster secret, so that a load balancer needs no sticky
 * sessions. HTTP requests are proxied (bodies streamed both ways); a WebSocket upgrade is piped
 * as raw bytes once the owner accepted it.
 * @module
 */
import { Agent, type ClientRequest, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../logger.js';
import type { TimeProvider } from '../../time-provider.js';
import { redactRequestUrl } from '../http-request-info.js';
import { ClusterKeys, HOP_HEADER, type HopCheck, type TokenOwner } from './cluster-keys.js';

/** Settings of a {@link ConnectionForwarder}. */
export interface ForwarderOptions {
  /** The secret the cluster's nodes share. */
  readonly secret: string | Uint8Array;
  /** This node's id (named in the tokens it issues). */
  readonly nodeId: string;
  /**
   * The base URL peers reach this node at; undefined: the address and port each negotiate
   * request came in on (the address the node listens on, as the load balancer reached it).
   */
  readonly advertiseUrl: string | undefined;
  /** How long the owner may take to answer: the long-poll timeout and a margin. */
  readonly responseTimeoutMs: number;
  readonly logger: Logger;
  readonly time: TimeProvider;
}

/** What this node forwarded and received (for health pages and tests). */
export interface ForwardingCounters {
  /** HTTP transport requests sent on to their owner. */
  forwardedRequests: number;
  /** WebSocket upgrades sent on to their owner. */
  forwardedUpgrades: number;
  /** HTTP requests and upgrades that came from a peer with a valid hop signature. */
  receivedHops: number;
  /** Forwards whose owner could not be reached (answered 404, as for a connection that is gone). */
  ownerUnreachable: number;
  /** Forwards whose owner did not answer in time (answered 504). */
  timedOut: number;
  /** Requests with a hop header that is not this cluster's or has expired (answered 403). */
  refusedHops: number;
}

/** What to do with a transport request. */
export type ForwardDecision =
  | { readonly kind: 'local' }
  | { readonly kind: 'forward'; readonly owner: TokenOwner }
  | { readonly kind: 'bad-hop' };

/** How a forward failed, for the caller's answer and its catalogue code. */
export type ForwardFailure = 'unreachable' | 'timeout';

/** How long a peer may take to accept the hop's TCP connection. */
export const FORWARD_CONNECT_TIMEOUT_MS = 5_000;

/** How long an idle pooled hop socket stays open. */
const IDLE_HOP_SOCKET_MS = 4_000;

/** Headers that belong to one hop and are never passed on (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  HOP_HEADER,
]);

/**
 * Issues owner-naming tokens, decides which requests go elsewhere, and forwards them. One per hub
 * server; it holds a keep-alive agent per scheme for the hops.
 */
export class ConnectionForwarder {
  private readonly keys: ClusterKeys;
  // Idle hop sockets close before a Node peer's own keep-alive timeout (5 s) would close them.
  private readonly agent = new Agent({ keepAlive: true, timeout: IDLE_HOP_SOCKET_MS });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, timeout: IDLE_HOP_SOCKET_MS });
  /** What this node forwarded and received. */
  readonly counters: ForwardingCounters = {
    forwardedRequests: 0,
    forwardedUpgrades: 0,
    receivedHops: 0,
    ownerUnreachable: 0,
    timedOut: 0,
    refusedHops: 0,
  };

  constructor(private readonly options: ForwarderOptions) {
    this.keys = new ClusterKeys(options.secret);
  }

  /** This node's id. */
  get nodeId(): string {
    return this.options.nodeId;
  }

  /** A token for a new connection negotiated by `req`: it names this node and its address. */
  mint(random: string, req: IncomingMessage): string {
    return this.keys.mint(random, { nodeId: this.options.nodeId, url: this.advertisedUrl(req) });
  }

  /** The owner a token names, when this cluster signed it. */
  ownerOf(token: string): TokenOwner | undefined {
    return this.keys.read(token);
  }

  /**
   * Where a transport request for `token` is served: here (the connection is here, or the token
   * is not a valid token of another node, or the request already made its one hop), at the owner,
   * or nowhere (a hop header that does not verify).
   */
  decide(req: IncomingMessage, token: string | null, isLocal: (token: string) => boolean): ForwardDecision {
    const hop = this.checkHop(req);
    if (hop.kind === 'invalid') {
      this.counters.refusedHops++;
      return { kind: 'bad-hop' };
    }
    if (hop.kind === 'valid') {
      this.counters.receivedHops++;
      return { kind: 'local' };
    }
    if (!token || isLocal(token)) return { kind: 'local' };
    const owner = this.keys.read(token);
    if (!owner || owner.nodeId === this.options.nodeId || !isHttpUrl(owner.url)) return { kind: 'local' };
    return { kind: 'forward', owner };
  }

  /**
   * Proxies an HTTP transport request to `owner` and its answer back; `fail` answers when the
   * owner cannot be reached or does not answer in time (nothing was sent to the client yet).
   */
  forwardRequest(
    req: IncomingMessage,
    res: ServerResponse,
    owner: TokenOwner,
    fail: (failure: ForwardFailure) => void,
  ): void {
    this.counters.forwardedRequests++;
    let answered = false;
    let upstream: ClientRequest;
    const failed = (failure: ForwardFailure, error?: Error) => {
      if (answered) return;
      answered = true;
      upstream.destroy();
      this.failed(req, owner, failure, error);
      if (!res.headersSent && !res.destroyed) fail(failure);
      else res.destroy();
    };
    const responseTimer = this.options.time.setTimeout(
      () => failed('timeout'),
      this.options.responseTimeoutMs,
    );
    const send = (retry: boolean) => {
      upstream = this.open(req, owner, false);
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        // A pooled socket the owner closed as it was reused: a request without a body is sent
        // again once on a fresh socket (the owner never read it).
        if (retry && upstream.reusedSocket && error.code === 'ECONNRESET' && !answered) return send(false);
        failed('unreachable', error);
      });
      upstream.on('response', (answer: IncomingMessage) => {
        responseTimer.cancel();
        if (answered || res.destroyed) {
          answer.destroy();
          return;
        }
        answered = true;
        res.writeHead(answer.statusCode ?? 502, passedHeaders(answer.headers));
        res.flushHeaders();
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      });
      if (hasBody(req)) {
        req.pipe(upstream);
      } else {
        req.resume();
        upstream.end();
      }
    };
    // The client left (a poll cancelled, an event stream closed): so does the hop.
    res.on('close', () => {
      responseTimer.cancel();
      if (!res.writableFinished) upstream.destroy();
    });
    send(!hasBody(req));
  }

  /**
   * Sends a WebSocket upgrade on to `owner`; once the owner switched protocols, the two sockets
   * are piped to each other. A refusal (401, 404...) is passed back as the owner wrote it.
   */
  forwardUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    owner: TokenOwner,
    fail: (failure: ForwardFailure) => void,
  ): void {
    this.counters.forwardedUpgrades++;
    let answered = false;
    const upstream = this.open(req, owner, true);
    const failed = (failure: ForwardFailure, error?: Error) => {
      if (answered) return;
      answered = true;
      upstream.destroy();
      this.failed(req, owner, failure, error);
      fail(failure);
    };
    const timer = this.options.time.setTimeout(() => failed('timeout'), FORWARD_CONNECT_TIMEOUT_MS * 2);
    socket.once('close', () => {
      timer.cancel();
      if (!answered) {
        answered = true;
        upstream.destroy();
      }
    });
    upstream.on('error', (error) => failed('unreachable', error));
    upstream.on('response', (answer: IncomingMessage) => {
      timer.cancel();
      if (answered) return answer.destroy();
      answered = true;
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', () => socket.destroy());
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = passedHeaders(answer.headers);
        headers['content-length'] = String(body.length);
        headers.connection = 'close';
        socket.end(Buffer.concat([statusHead(answer, headers), body]));
      });
    });
    upstream.on('upgrade', (answer: IncomingMessage, peer: Socket, peerHead: Buffer) => {
      timer.cancel();
      if (answered || socket.destroyed) {
        peer.destroy();
        return;
      }
      answered = true;
      peer.setNoDelay(true);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers))
        if (value !== undefined) headers[name] = value;
      socket.write(statusHead(answer, headers));
      if (peerHead.length > 0) socket.write(peerHead);
      if (head.length > 0) peer.write(head);
      socket.pipe(peer);
      peer.pipe(socket);
      const end = () => {
        socket.destroy();
        peer.destroy();
      };
      peer.on('error', end);
      peer.on('close', end);
      socket.on('error', end);
      socket.on('close', end);
    });
    upstream.end();
  }

  /** Closes the hops' idle sockets. */
  dispose(): void {
    this.agent.destroy();
    this.httpsAgent.destroy();
  }

  private checkHop(req: IncomingMessage): HopCheck {
    return this.keys.checkHop(req.headers[HOP_HEADER], req.method ?? 'GET', req.url ?? '/', Date.now());
  }

  // Hop times are wall-clock milliseconds (the time provider's clock is monotonic, per process).

  /** The hop's request to the owner, headers copied but for those of one hop, and signed. */
  private open(req: IncomingMessage, owner: TokenOwner, upgrade: boolean): ClientRequest {
    const target = new URL(owner.url);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const headers: Record<string, string | string[]> = passedHeaders(req.headers);
    if (upgrade) {
      headers.connection = 'Upgrade';
      headers.upgrade = req.headers.upgrade ?? 'websocket';
    }
    headers[HOP_HEADER] = this.keys.signHop(this.options.nodeId, method, path, Date.now());
    const https = target.protocol === 'https:';
    const upstream = (https ? httpsRequest : request)({
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port || (https ? 443 : 80),
      method,
      path,
      headers,
      // An upgraded socket leaves the pool; plain requests reuse the agent's sockets.
      agent: upgrade ? false : https ? this.httpsAgent : this.agent,
      timeout: FORWARD_CONNECT_TIMEOUT_MS,
    });
    upstream.on('socket', (socket: Socket) => socket.setNoDelay(true));
    // `timeout` fires on an idle socket: before the connection is made, it means unreachable; a
    // long poll's quiet wait afterwards is the response timer's business.
    upstream.on('timeout', () => {
      if (!upstream.socket || upstream.socket.connecting) {
        upstream.destroy(new Error(`connecting to ${owner.url} timed out`));
      }
    });
    return upstream;
  }

  private failed(req: IncomingMessage, owner: TokenOwner, failure: ForwardFailure, error?: Error): void {
    if (failure === 'timeout') this.counters.timedOut++;
    else this.counters.ownerUnreachable++;
    this.options.logger.warn('forward.failed', {
      url: redactRequestUrl(req.url ?? ''),
      owner: owner.nodeId,
      ownerUrl: owner.url,
      failure,
      ...(error ? { error } : {}),
    });
  }

  /** `advertiseUrl`, or the scheme, address and port the request came in on. */
  private advertisedUrl(req: IncomingMessage): string {
    if (this.options.advertiseUrl !== undefined) return this.options.advertiseUrl;
    const socket = req.socket as Socket & Partial<Pick<TLSSocket, 'encrypted'>>;
    let address = socket.localAddress ?? '127.0.0.1';
    if (address.startsWith('::ffff:') && address.includes('.')) address = address.slice(7);
    const host = address.includes(':') ? `[${address}]` : address;
    return `${socket.encrypted ? 'https' : 'http'}://${host}:${socket.localPort ?? 80}`;
  }
}

/** Whether `url` is an http or https URL (what a token may name). */
export function isHttpUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Whether a request has a body to stream (a POST); GET and DELETE of a transport have none. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined
    ? req.headers['content-length'] !== '0'
    : req.headers['transfer-encoding'] !== undefined;
}

/** The headers of a message without those of one hop. */
function passedHeaders(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** `HTTP/1.1 <status> <reason>` and `headers`, as raw bytes for a socket. */
function statusHead(answer: IncomingMessage, headers: Record<string, string | string[]>): Buffer {
  let head = `HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${one}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}
