/**
 * Where the HTTP layer hands a transport request to the forwarder: before any other check, a
 * request whose token names another node goes there (docs/scale-out.md#no-sticky-sessions).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpConnectionDispatcher, HttpEndpoint } from '../http-connection-dispatcher.js';
import { refuseUpgrade } from '../http-responses.js';
import type { ForwardFailure } from './forwarder.js';

/** What a refused hop is told (its signature is not this cluster's, or expired). */
const BAD_HOP_TEXT = 'The forwarded request is not signed by this cluster.';
/** What a client is told when the owner did not answer in time. */
const TIMEOUT_TEXT = 'The node that holds the connection did not answer in time.';
/** What a client is told when the owner cannot be reached: its connection is gone with it. */
const GONE_TEXT = 'No Connection with that ID';

/**
 * Forwards a transport request (not a negotiate, not a preflight) whose connection lives on
 * another node, or refuses a bad hop; returns false when the request is served here.
 */
export function interceptRequest(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): boolean {
  const forwarder = d.options.forwarder;
  if (!forwarder || req.method === 'OPTIONS') return false;
  const decision = forwarder.decide(req, tokenOf(url), (token) => d.connections.get(token) !== undefined);
  if (decision.kind === 'local') return false;
  if (decision.kind === 'bad-hop') {
    d.refuse(res, endpoint, 403, 'SB_ERR_FORWARD_UNAUTHENTICATED', BAD_HOP_TEXT);
    return true;
  }
  forwarder.forwardRequest(req, res, decision.owner, (failure: ForwardFailure) => {
    if (failure === 'timeout') d.refuse(res, endpoint, 504, 'SB_ERR_FORWARD_TIMEOUT', TIMEOUT_TEXT);
    else d.refuse(res, endpoint, 404, 'SB_ERR_FORWARD_OWNER_UNREACHABLE', GONE_TEXT);
  });
  return true;
}

/** As {@link interceptRequest}, for a WebSocket upgrade. */
export function interceptUpgrade(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  url: URL,
): boolean {
  const forwarder = d.options.forwarder;
  if (!forwarder) return false;
  const decision = forwarder.decide(req, tokenOf(url), (token) => d.connections.get(token) !== undefined);
  if (decision.kind === 'local') return false;
  if (decision.kind === 'bad-hop') {
    d.count(endpoint, 'SB_ERR_FORWARD_UNAUTHENTICATED');
    refuseUpgrade(socket, 403, BAD_HOP_TEXT);
    return true;
  }
  forwarder.forwardUpgrade(req, socket, head, decision.owner, (failure: ForwardFailure) => {
    if (failure === 'timeout') {
      d.count(endpoint, 'SB_ERR_FORWARD_TIMEOUT');
      refuseUpgrade(socket, 504, TIMEOUT_TEXT);
    } else {
      d.count(endpoint, 'SB_ERR_FORWARD_OWNER_UNREACHABLE');
      refuseUpgrade(socket, 404, GONE_TEXT);
    }
  });
  return true;
}

/** The `id` query value (the key compared case-insensitively, as the transports read it). */
function tokenOf(url: URL): string | null {
  for (const [key, value] of url.searchParams) if (key.toLowerCase() === 'id') return value;
  return null;
}
