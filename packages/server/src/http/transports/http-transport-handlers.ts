/**
 * The plain-HTTP transport requests on an endpoint path: the Server-Sent Events GET
 * (docs/protocol.md#server-sent-events), long polls (docs/protocol.md#long-polling), POSTed client
 * data (docs/protocol.md#http-send) and the long-polling DELETE (docs/protocol.md#long-polling-delete).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorize } from '../../hubs/authorization.js';
import type { TransportType } from '../../options.js';
import type { HttpConnectionDispatcher, HttpEndpoint } from '../http-connection-dispatcher.js';
import type { HttpConnection } from '../http-connection-manager.js';
import type { HttpRequestInfo } from '../http-request-info.js';
import { sendText } from '../http-responses.js';
import { LongPollingTransport } from './long-polling-transport.js';
import { ServerSentEventsTransport } from './server-sent-events-transport.js';

/**
 * The checks every transport GET shares, in the reference's order: the endpoint offers the
 * transport (404), the server accepts connections (503), the user may connect (401/403), the id
 * names a connection (400/404), the connection does not change transport (400). Returns the
 * connection and the user, or undefined once it answered.
 */
async function transportRequest(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  info: HttpRequestInfo,
  res: ServerResponse,
  transport: TransportType,
) {
  if (!endpoint.transports.includes(transport)) {
    d.refuse(
      res,
      endpoint,
      404,
      'SB_ERR_TRANSPORT_NOT_SUPPORTED',
      `${transport} transport not supported by this end point type`,
    );
    return undefined;
  }
  if (!d.accepting) {
    sendText(res, 503, 'The server is shutting down.');
    return undefined;
  }
  const user = await d.authenticate(info);
  const access = await authorize(endpoint.authorize, user);
  if (access !== 'ok') {
    d.refuseAccess(res, endpoint, access);
    return undefined;
  }
  const connection = d.lookup(info, res, endpoint);
  if (!connection) return undefined;
  if (connection.transportType && connection.transportType !== transport) {
    d.refuse(res, endpoint, 400, 'SB_ERR_TRANSPORT_NOT_SUPPORTED', 'Cannot change transports mid-connection');
    return undefined;
  }
  if (res.destroyed) return undefined; // the client left while it was authenticated
  return { connection, user };
}

/** `GET {path}?id=` with `Accept: text/event-stream`: the event stream of a new connection. */
export async function serveServerSentEvents(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  info: HttpRequestInfo,
  res: ServerResponse,
): Promise<void> {
  const found = await transportRequest(d, endpoint, info, res, 'ServerSentEvents');
  if (!found) return;
  const { connection, user } = found;
  // One event stream per connection; a second one meanwhile is a conflict
  // (docs/protocol.md#transport-conflict).
  if (connection.transportType || connection.status !== 'inactive') {
    return d.refuse(
      res,
      endpoint,
      409,
      'SB_ERR_CONNECTION_CONFLICT',
      'Another event stream is using this connection.',
    );
  }
  d.connections.claim(connection, 'ServerSentEvents');
  const transport = new ServerSentEventsTransport(res);
  connection.httpTransport = transport;
  const { receiver, run } = d.startApplication(endpoint, connection, user, info, transport);
  transport.start(receiver);
  run();
}

/**
 * A long poll. The first one for a connection starts it (its request is the one hub code sees)
 * and is answered at once, empty (docs/protocol.md#first-poll); later ones wait for data.
 */
export async function serveLongPoll(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  info: HttpRequestInfo,
  res: ServerResponse,
): Promise<void> {
  const found = await transportRequest(d, endpoint, info, res, 'LongPolling');
  if (!found) return;
  const { connection, user } = found;
  const existing = connection.httpTransport;
  if (existing instanceof LongPollingTransport) {
    if (endpoint.authorize !== undefined && user?.userId !== connection.user?.userId) {
      return d.refuseAccess(res, endpoint, 'forbidden');
    }
    existing.handlePoll(res);
    return;
  }
  if (connection.transportType) {
    // Claimed by a long poll whose transport is not set up yet: cannot happen, but never hang.
    return d.refuse(res, endpoint, 409, 'SB_ERR_CONNECTION_CONFLICT', 'The connection is starting.');
  }
  d.connections.claim(connection, 'LongPolling');
  const connections = d.connections;
  const transport = new LongPollingTransport(
    d.options.time,
    {
      pollStarted: () => connections.setActive(connection, true),
      pollEnded: () => connections.setActive(connection, false),
      finished: () => connections.dispose(connection),
    },
    d.options.longPollTimeoutMs,
  );
  connection.httpTransport = transport;
  const { receiver, run } = d.startApplication(endpoint, connection, user, info, transport);
  transport.start(receiver, res);
  run();
}

/**
 * `POST {path}?id=`: client data for Server-Sent Events and long polling
 * (docs/protocol.md#http-send). The body, bounded by the frame size limit (413 beyond), goes to the
 * connection whole; the answer (200, empty) waits while the connection is paused, which is what
 * holds back the official client.
 */
export async function servePost(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  req: IncomingMessage,
  info: HttpRequestInfo,
  res: ServerResponse,
): Promise<void> {
  const connection = d.lookup(info, res, endpoint);
  if (!connection) return;
  if (connection.transportType === 'WebSockets') {
    return d.refuse(
      res,
      endpoint,
      405,
      'SB_ERR_METHOD_NOT_ALLOWED',
      'POST requests are not allowed for WebSocket connections.',
    );
  }
  const transport = connection.httpTransport;
  if (!transport) {
    return d.refuse(
      res,
      endpoint,
      400,
      'SB_ERR_CONNECTION_NOT_FOUND',
      'No transport has started this connection yet.',
    );
  }
  const access = await d.authorizeFollowUp(endpoint, connection, info);
  if (access !== 'ok') return d.refuseAccess(res, endpoint, access);
  const limit = d.options.maxWebSocketFrameSize;
  const body = await readBody(req, limit);
  if (body === 'too-large') {
    d.count(endpoint, 'SB_ERR_PAYLOAD_TOO_LARGE');
    const text = Buffer.from(`The request body is larger than ${limit} bytes.`);
    res.writeHead(413, { 'Content-Type': 'text/plain', 'Content-Length': text.length, Connection: 'close' });
    res.end(text);
    return;
  }
  if (body === 'failed') {
    if (!res.destroyed) sendText(res, 400, 'The request body could not be read.');
    return;
  }
  if (connection.status === 'disposed') {
    return d.refuse(res, endpoint, 404, 'SB_ERR_CONNECTION_NOT_FOUND', 'No Connection with that ID');
  }
  const binary = /^application\/octet-stream/i.test(req.headers['content-type'] ?? '');
  if (body.length > 0) transport.receive(body, binary);
  await transport.gate.wait();
  if (!res.destroyed) sendText(res, 200, '');
}

/**
 * `DELETE {path}?id=`: the end of a long-polling connection (docs/protocol.md#long-polling-delete): 202, and
 * the pending poll gets 204.
 */
export async function serveDelete(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  info: HttpRequestInfo,
  res: ServerResponse,
): Promise<void> {
  const connection: HttpConnection | undefined = d.lookup(info, res, endpoint);
  if (!connection) return;
  const transport = connection.httpTransport;
  if (!(transport instanceof LongPollingTransport)) {
    return d.refuse(
      res,
      endpoint,
      400,
      'SB_ERR_METHOD_NOT_ALLOWED',
      'Cannot terminate this connection using the DELETE endpoint.',
    );
  }
  const access = await d.authorizeFollowUp(endpoint, connection, info);
  if (access !== 'ok') return d.refuseAccess(res, endpoint, access);
  transport.handleDelete();
  d.connections.dispose(connection);
  sendText(res, 202, '');
}

/** Reads a request body up to `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'failed'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Buffer | 'too-large' | 'failed') => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on('aborted', () => settle('failed'));
    req.on('error', () => settle('failed'));
    req.on('close', () => settle(req.complete ? Buffer.concat(chunks, size) : 'failed'));
  });
}
