/**
 * `POST {path}/negotiate` (docs/protocol.md#negotiate): the rate limit, authentication and
 * authorization, the connection caps, the negotiate version, and a new connection's ids and
 * transports in the reply.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authorize } from '../hubs/authorization.js';
import type { HttpConnectionDispatcher, HttpEndpoint } from './http-connection-dispatcher.js';
import type { HttpRequestInfo } from './http-request-info.js';
import { sendJson, sendText } from './http-responses.js';
import { readNegotiateVersion, writeNegotiateReply } from './negotiate.js';
import { clientAddress } from './negotiate-limits.js';

/** Answers a negotiate request on `endpoint`: 200 with the new connection, or a refusal. */
export async function serveNegotiate(
  d: HttpConnectionDispatcher,
  endpoint: HttpEndpoint,
  req: IncomingMessage,
  info: HttpRequestInfo,
  res: ServerResponse,
): Promise<void> {
  if (!d.accepting) return sendText(res, 503, 'The server is shutting down.');
  const o = d.options;
  if (d.negotiateBuckets && !(await d.takeNegotiateToken(clientAddress(req, o.trustProxy)))) {
    res.setHeader('Retry-After', '1');
    return d.refuse(res, endpoint, 429, 'SB_ERR_NEGOTIATE_RATE_LIMITED', 'Too many negotiate requests.');
  }
  // Without an authenticator or a requirement, nothing to wait for (most hubs).
  const user = d.options.authenticate === undefined ? undefined : await d.authenticate(info);
  const access = endpoint.authorize === undefined ? 'ok' : await authorize(endpoint.authorize, user);
  if (access !== 'ok') return d.refuseAccess(res, endpoint, access);
  const owner = d.ownerOf(req, user);
  // Counted now (machine-wide with shared limits); given back if no connection is made.
  const reserved = owner && d.connections.limits.reserve(owner);
  const refusal = reserved instanceof Promise ? await reserved : reserved;
  if (refusal) return d.refuse(res, endpoint, 429, 'SB_ERR_TOO_MANY_CONNECTIONS', refusal);
  const unreserve = () => owner && d.connections.limits.remove(owner);
  const version = readNegotiateVersion(info.query.get('negotiateVersion'), o.minimumNegotiateVersion);
  if (!version.ok) {
    unreserve();
    d.count(endpoint, 'SB_ERR_NEGOTIATE_VERSION');
    return sendJson(res, 200, JSON.stringify({ error: version.error }));
  }
  if (o.maxInactiveConnections !== undefined && d.connections.pendingCount >= o.maxInactiveConnections) {
    unreserve();
    res.setHeader('Retry-After', '1');
    return d.refuse(
      res,
      endpoint,
      503,
      'SB_ERR_TOO_MANY_PENDING_CONNECTIONS',
      'Too many pending connections.',
    );
  }
  const forwarder = o.forwarder;
  const connection = d.connections.create(
    endpoint.key,
    version.version,
    owner,
    forwarder && ((random) => forwarder.mint(random, req)),
  );
  // Stateful reconnect (docs/protocol.md#stateful-reconnect-opt-in): the client asks, the hub allows it, and
  // it only runs on WebSockets.
  connection.useStatefulReconnect =
    endpoint.kind === 'hub' &&
    endpoint.env.options.allowStatefulReconnects &&
    endpoint.transports.includes('WebSockets') &&
    info.query.get('useStatefulReconnect')?.trim().toLowerCase() === 'true';
  o.logger.debug('connection.negotiated', { hub: endpoint.path, connectionId: connection.connectionId });
  sendJson(
    res,
    200,
    writeNegotiateReply({
      negotiateVersion: version.version,
      connectionId: connection.connectionId,
      connectionToken: connection.connectionToken,
      transports: endpoint.transports,
      useStatefulReconnect: connection.useStatefulReconnect,
    }),
  );
}
