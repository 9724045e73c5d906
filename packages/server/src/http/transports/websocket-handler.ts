/**
 * The WebSocket upgrade on an endpoint path (docs/protocol.md#websockets).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { writeHandshakeResponse } from '@switchboard/protocol';
import type { WebSocket } from 'ws';
import type { Principal } from '../../auth/authentication.js';
import { authorize } from '../../hubs/authorization.js';
import type { HttpConnectionDispatcher, HttpEndpoint } from '../http-connection-dispatcher.js';
import type { HttpConnection } from '../http-connection-manager.js';
import { requestInfoOf } from '../http-request-info.js';
import { refuseUpgrade } from '../http-responses.js';
import { unguardUpgradedSocket } from '../upgraded-socket-guard.js';
import { WebSocketTransport } from './websocket-transport.js';

/** How long a refused skip-negotiation client has to send the handshake we answer with the refusal. */
const HANDSHAKE_REFUSAL_TIMEOUT_MS = 15_000;

/** Takes the connection the upgrade names (or creates one: skipNegotiation, 4.2) and runs it over WebSockets. */
export async function upgradeWebSocket(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  url: URL,
): Promise<void> {
  const info = requestInfoOf(req, url);
  const refuse = (status: number, code: Parameters<typeof d.count>[1], body?: string) => {
    d.count(endpoint, code);
    refuseUpgrade(socket, status, body);
  };
  if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    return refuse(400, 'SB_ERR_METHOD_NOT_ALLOWED', 'Not a WebSocket request.');
  }
  if (!endpoint.transports.includes('WebSockets')) {
    return refuse(
      404,
      'SB_ERR_TRANSPORT_NOT_SUPPORTED',
      'WebSockets transport not supported by this end point type',
    );
  }
  if (!d.accepting) return refuseUpgrade(socket, 503, 'The server is shutting down.');
  // Without an authenticator or a requirement, nothing to wait for (most hubs).
  const user = d.options.authenticate === undefined ? undefined : await d.authenticate(info);
  const access = endpoint.authorize === undefined ? 'ok' : await authorize(endpoint.authorize, user);
  if (access !== 'ok') {
    return access === 'unauthenticated'
      ? refuse(401, 'SB_ERR_UNAUTHORIZED')
      : refuse(403, 'SB_ERR_FORBIDDEN');
  }
  const token = info.query.get('id');
  if (socket.destroyed) return; // the client left while it was authenticated
  const connections = d.connections;
  let connection: HttpConnection;
  if (token) {
    const found = connections.get(token);
    if (!found || found.hubKey !== endpoint.key) {
      return refuse(404, 'SB_ERR_CONNECTION_NOT_FOUND', 'No Connection with that ID');
    }
    if (found.transportType && found.transportType !== 'WebSockets') {
      return refuse(400, 'SB_ERR_TRANSPORT_NOT_SUPPORTED', 'Cannot change transports mid-connection');
    }
    if (found.transportType === 'WebSockets' && found.application?.resumable) {
      // Stateful reconnect: the same user's new socket takes over (docs/protocol.md#resuming).
      if (endpoint.authorize !== undefined && user?.userId !== found.user?.userId) {
        return refuse(403, 'SB_ERR_FORBIDDEN');
      }
      return resumeWebSocket(d, found, user, req, socket, head);
    }
    if (found.status !== 'inactive' || found.transportType) return refuse(409, 'SB_ERR_CONNECTION_CONFLICT');
    connection = found;
  } else {
    // skipNegotiation: the connection is born here (docs/protocol.md#websockets-skip-negotiation). Over a
    // connection cap, the refusal has to
    // come as a handshake error: the client does not read an upgrade's HTTP error body.
    const owner = d.ownerOf(req, user);
    const reserved = owner && connections.limits.reserve(owner);
    const refusal = reserved instanceof Promise ? await reserved : reserved;
    if (!refusal && owner && socket.destroyed) return connections.limits.remove(owner);
    if (refusal) {
      d.count(endpoint, 'SB_ERR_TOO_MANY_CONNECTIONS');
      d.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        // Answer the client's handshake, as a handshake reply must (docs/protocol.md#handshake-reply); a
        // silent one is cut.
        const timer = d.options.time.setTimeout(() => ws.terminate(), HANDSHAKE_REFUSAL_TIMEOUT_MS);
        ws.once('message', () => {
          timer.cancel();
          ws.send(writeHandshakeResponse(refusal), { binary: false });
          ws.close(1000);
        });
        ws.once('close', () => timer.cancel());
      });
      return;
    }
    connection = connections.create(endpoint.key, 1, owner);
  }
  // Claim it before the upgrade completes, so that a second request meanwhile gets 409.
  connections.claim(connection, 'WebSockets');
  // `ws` refuses a bad upgrade (a wrong Sec-WebSocket-Version or key, a socket already gone) by
  // itself, without calling back: give the connection back then, or it stays claimed forever,
  // out of reach of the disconnect timeout, and its token answers 409.
  const created = !token;
  const release = () => {
    if (connection.status !== 'active' || connection.application) return;
    if (created) connections.dispose(connection);
    else connections.release(connection);
  };
  // `on`, not `once` (whose wrapper is two more objects per upgrade): `release` is taken off as the
  // upgrade completes, and after a close it has nothing left to do.
  socket.on('close', release);
  d.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    socket.removeListener('close', release);
    unguardUpgradedSocket(socket, d.options.logger);
    if (connection.status === 'disposed') {
      ws.terminate();
      return;
    }
    const transport = new WebSocketTransport(ws, d.options.time);
    const { receiver, run } = d.startApplication(endpoint, connection, user, info, transport);
    transport.attach(receiver);
    run();
  });
}

/**
 * Stateful reconnect: the client's new WebSocket for a live connection. It sends no handshake; the
 * connection writes its Sequence and replay, then carries on over the new socket.
 */
function resumeWebSocket(
  d: HttpConnectionDispatcher,
  connection: HttpConnection,
  user: Principal | undefined,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  d.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    unguardUpgradedSocket(socket, d.options.logger);
    const application = connection.application;
    if (connection.status === 'disposed' || !application?.resume) {
      ws.terminate();
      return;
    }
    const transport = new WebSocketTransport(ws, d.options.time);
    const receiver = application.resume(transport, user);
    if (!receiver) {
      ws.terminate();
      return;
    }
    d.connections.setActive(connection, true);
    transport.attach(receiver);
  });
}
