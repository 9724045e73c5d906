/**
 * The server package's error catalogue and the error types hub code uses. Every code is listed in
 * `docs/errors.md` (a test keeps the two in sync).
 * @module
 */
import type { ErrorCatalogue } from '@switchboard/protocol';

/** The codes the server package raises or reports. */
export const serverErrors = {
  SB_ERR_HUB_EXCEPTION: {
    summary: 'A hub method threw a HubException; its message is meant for the caller.',
    surface:
      'Completion error "An unexpected error occurred invoking \'<M>\' on the server. HubException: <message>"',
  },
  SB_ERR_HUB_METHOD_FAILED: {
    summary: 'A hub method threw or rejected with an error that is not a HubException.',
    surface:
      'Completion error "An unexpected error occurred invoking \'<M>\' on the server." (type and message with detailed errors on)',
  },
  SB_ERR_UNKNOWN_METHOD: {
    summary: 'The invocation names a method the hub does not have.',
    surface:
      'Completion error "Failed to invoke \'<M>\' due to an error on the server. HubException: Method does not exist."',
  },
  SB_ERR_ARGUMENT_COUNT: {
    summary: 'The invocation has more or fewer arguments than the hub method takes.',
    surface:
      'Completion error "Failed to invoke \'<M>\' due to an error on the server." (with detailed errors: InvalidDataException: Invocation provides <n> argument(s) but target expects <m>.)',
  },
  SB_ERR_INVALID_ARGUMENT: {
    summary: "An argument does not match the hub method's declared schema.",
    surface:
      'Completion error "Failed to invoke \'<M>\' due to an error on the server. HubException: Invalid argument <i>: <reason>"',
  },
  SB_ERR_STREAM_FAILED: {
    summary:
      'A streaming hub method failed while its items were being enumerated (or an item could not be serialized).',
    surface:
      'Completion error "An error occurred on the server while streaming results." (type and message with detailed errors on, or for a HubException)',
  },
  SB_ERR_STREAM_MODE_MISMATCH: {
    summary: 'A streaming method was called with invoke/send, or a non-streaming one with stream.',
    surface:
      'Completion error "The client attempted to invoke the streaming \'<M>\' method with a non-streaming invocation." (or "... the non-streaming \'<M>\' method with a streaming invocation.")',
  },
  SB_ERR_STREAM_COUNT_MISMATCH: {
    summary: 'The invocation carries more or fewer upload streams than the hub method takes.',
    surface:
      'Completion error "An unexpected error occurred invoking \'<M>\' on the server. HubException: Client sent <n> stream(s), Hub method expects <m>."',
  },
  SB_ERR_INVOCATION_ID_IN_USE: {
    summary:
      'A StreamInvocation (or an upload stream) reuses the id of one that is still active on the connection.',
    surface: 'Completion error "Invocation ID \'<id>\' is already in use."',
  },
  SB_ERR_CLIENT_RESULT_FAILED: {
    summary:
      'A client result could not be obtained: the connection does not exist or disconnected while the server waited.',
    surface:
      "The server-side invoke rejects with \"Connection '<id>' does not exist.\" or \"Connection '<id>' disconnected.\"; an error the client sent back rejects it as a HubException with the client's text",
  },
  SB_ERR_CLIENT_RESULT_TIMEOUT: {
    summary:
      'A client did not answer a server-to-client invocation within clientResultTimeoutMs (or the per-call timeout).',
    surface:
      'The server-side invoke rejects with "Timed out waiting for a result from connection \'<id>\'."; nothing is sent to the client',
  },
  SB_ERR_UNAUTHORIZED: {
    summary: 'The request carries no valid credentials for a hub that requires them.',
    surface:
      'HTTP 401 with an empty body and `WWW-Authenticate: Bearer` on negotiate, on transport requests and on WebSocket upgrades',
  },
  SB_ERR_FORBIDDEN: {
    summary: "The user is known but the hub's or the method's authorization policy refuses them.",
    surface:
      'HTTP 403 on negotiate and transport requests; for a method, Completion error "Failed to invoke \'<M>\' because user is unauthorized"',
  },
  SB_ERR_HANDSHAKE_FAILED: {
    summary: 'The handshake named an unknown protocol or version, was malformed, or did not arrive in time.',
    surface: 'Handshake error reply {"error": "..."} with the reference texts, then the connection closes',
  },
  SB_ERR_PROTOCOL_VIOLATION: {
    summary: 'The client sent a malformed or oversized hub message, or a message the protocol forbids.',
    surface: 'Close message "Connection closed with an error." (details with detailed errors on), then close',
  },
  SB_ERR_CLIENT_TIMEOUT: {
    summary: 'A client that had pinged sent nothing for longer than the client timeout interval.',
    surface: 'Close message "Connection closed with an error." with allowReconnect true',
  },
  SB_ERR_SEND_TIMEOUT: {
    summary:
      'A client stopped reading: its unsent data stayed above the limit longer than the send timeout, or grew past the hard cap.',
    surface:
      'The connection is closed (WebSocket close 1011 when no Close message can get through); logged and counted',
  },
  SB_ERR_CONNECTION_ABORTED: {
    summary: 'The transport ended without a Close message (network loss, a killed client).',
    surface: 'onDisconnected receives this error; logged at debug level',
  },
  SB_ERR_AUTHENTICATION_EXPIRED: {
    summary:
      "The connection's credentials expired while it was open, and the hub closes such connections (closeOnAuthenticationExpiration).",
    surface:
      'Close message with allowReconnect true and no error, so the client reconnects with a fresh token; onDisconnected sees no error; logged and counted',
  },
  SB_ERR_ON_CONNECTED_FAILED: {
    summary: "The hub's onConnected threw; the connection is refused.",
    surface: 'Close message "Connection closed with an error." with allowReconnect false',
  },
  SB_ERR_NEGOTIATE_VERSION: {
    summary: 'Negotiate asked for a version the server does not support, or a non-integer one.',
    surface: 'HTTP 200 with {"error": "..."} as the reference writes it',
  },
  SB_ERR_CONNECTION_NOT_FOUND: {
    summary: 'A transport request named a connection token that does not exist or is gone.',
    surface: 'HTTP 404 "No Connection with that ID"',
  },
  SB_ERR_FORWARD_OWNER_UNREACHABLE: {
    summary:
      'A transport request for a connection on another node (clusterSecret) was forwarded, and that node could not be reached: its connection is gone with it.',
    surface:
      'HTTP 404 "No Connection with that ID" (a WebSocket upgrade: 404 before the switch); log event forward.failed',
  },
  SB_ERR_FORWARD_TIMEOUT: {
    summary:
      'A forwarded transport request got no answer from the node that holds the connection within the long-poll timeout and a margin.',
    surface:
      'HTTP 504 text/plain "The node that holds the connection did not answer in time."; log event forward.failed',
  },
  SB_ERR_FORWARD_UNAUTHENTICATED: {
    summary:
      "A request carried the X-Switchboard-Hop header of a forwarded request, but its signature is not made with this cluster's secret, or it is more than 60 s old.",
    surface: 'HTTP 403 text/plain "The forwarded request is not signed by this cluster."',
  },
  SB_ERR_CONNECTION_ID_REQUIRED: {
    summary: 'A transport request that needs a connection token came without one.',
    surface: 'HTTP 400 "Connection ID required"',
  },
  SB_ERR_CONNECTION_CONFLICT: {
    summary: 'A second transport request tried to take a connection that is already active.',
    surface: 'HTTP 409',
  },
  SB_ERR_TRANSPORT_NOT_SUPPORTED: {
    summary: 'The request asks for a transport this hub does not offer, or changes transport mid-connection.',
    surface:
      'HTTP 404 "<Transport> transport not supported by this end point type", or 400 "Cannot change transports mid-connection"',
  },
  SB_ERR_METHOD_NOT_ALLOWED: {
    summary: 'An HTTP method the hub endpoint does not serve at that path.',
    surface: 'HTTP 405 text/plain',
  },
  SB_ERR_PAYLOAD_TOO_LARGE: {
    summary:
      'A POST to a Server-Sent Events or long-polling connection carried a body larger than maxWebSocketFrameSize.',
    surface:
      'HTTP 413 text/plain "The request body is larger than <n> bytes."; the client\'s send or invoke rejects, the connection goes on',
  },
  SB_ERR_ORIGIN_NOT_ALLOWED: {
    summary:
      'A browser request or WebSocket upgrade came from an Origin that the cors allowlist does not name (checkOrigin).',
    surface: 'HTTP 403 text/plain "Origin not allowed." (preflights too), without CORS headers',
  },
  SB_ERR_NEGOTIATE_RATE_LIMITED: {
    summary: 'A client IP negotiated faster than negotiateRateLimit allows.',
    surface:
      'HTTP 429 "Too many negotiate requests." with Retry-After; start() rejects with "Failed to complete negotiation with the server: Error: Too many negotiate requests.: Status code \'429\'"',
  },
  SB_ERR_TOO_MANY_PENDING_CONNECTIONS: {
    summary: 'More connections were negotiated and not yet used than maxInactiveConnections allows.',
    surface:
      'HTTP 503 "Too many pending connections." with Retry-After; start() rejects with "Failed to complete negotiation with the server: Error: Too many pending connections.: Status code \'503\'"',
  },
  SB_ERR_TOO_MANY_CONNECTIONS: {
    summary: 'A user or a client address already holds the most connections this node allows.',
    surface:
      'HTTP 429 "Too many connections for this user." (or "... from this address.") on negotiate; the same text as a handshake error when negotiation is skipped',
  },
  SB_ERR_REQUEST_TIMEOUT: {
    summary:
      "A request's headers did not all arrive within requestHeadersTimeoutMs, or a hub request's body within requestBodyTimeoutMs (a slow or stalled client).",
    surface: 'HTTP 408 with an empty body, then the socket closes; counted in the metrics',
  },
  SB_ERR_TOO_MANY_SOCKETS: {
    summary: 'A client address already holds maxSocketsPerIp open sockets on the server.',
    surface:
      'HTTP 429 "Too many connections from this address.", then the socket closes (behind a trusted proxy: from the first request, with X-Forwarded-For\'s address)',
  },
  SB_ERR_RATE_LIMITED: {
    summary:
      'A connection or user invoked faster than the hub allows (token buckets per connection, user and method).',
    surface:
      'An invoke gets a Completion error starting with "SB_ERR_RATE_LIMITED"; a send is dropped and counted; persistent abuse gets a Close with that reason',
  },
  SB_ERR_PRESENCE_FAILED: {
    summary: 'The presence store failed to record a connection or a group change (its backend is down).',
    surface: 'Logged as presence.update_failed and counted; the connection itself goes on',
  },
  SB_ERR_PRESENCE_CLOSED: {
    summary: 'A presence store was used after close() (other than a removal).',
    surface: 'The promise rejects (subscribe throws); a programming error, not client-facing',
  },
  SB_ERR_HUB_CONFIGURATION: {
    summary:
      'A hub class or option is invalid: two methods differ only in case, a path is mapped twice, an option is out of range.',
    surface: 'Thrown by mapHub or the HubServer constructor at start-up',
  },
} as const satisfies ErrorCatalogue;

/** A code of the server package's catalogue. */
export type ServerErrorCode = keyof typeof serverErrors;

/** An error with a stable catalogue code. */
export class SwitchboardError extends Error {
  /** The stable catalogue code. */
  readonly code: ServerErrorCode;

  constructor(code: ServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}

/**
 * An error whose message is meant for the caller. Thrown from a hub method, its message reaches
 * the client even with detailed errors off, exactly as ASP.NET's `HubException` does:
 * `An unexpected error occurred invoking '<Method>' on the server. HubException: <message>`.
 *
 * @example
 * ```ts
 * if (!room) throw new HubException('Room not found.');
 * ```
 */
export class HubException extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubException';
  }
}

/**
 * The .NET-style exception type name of an error, used in detailed error texts: `error.name`
 * when it was set to something specific, else the constructor's name.
 */
export function exceptionTypeName(error: unknown): string {
  if (error instanceof Error) {
    if (error.name && error.name !== 'Error') return error.name;
    const ctor = error.constructor?.name;
    return ctor && ctor !== 'Error' ? ctor : 'Error';
  }
  return typeof error;
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Builds a client-facing error text the way ASP.NET's ErrorMessageHelper does: the generic text,
 * plus ` <Type>: <message>` when details are on or the error is a {@link HubException}.
 */
export function buildErrorMessage(generic: string, error: unknown, detailed: boolean): string {
  if (error instanceof HubException || detailed) {
    return `${generic} ${exceptionTypeName(error)}: ${errorMessage(error)}`;
  }
  return generic;
}
