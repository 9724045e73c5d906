/**
 * The service's error catalogue: stable `SB_ERR_SVC_*` codes, each with the HTTP status the REST
 * API answers with (a JSON body `{"error": {"code", "message", "field"?}}`) or the way a client
 * learns of it. Every code is listed in `docs/errors.md`; a test keeps the two in sync.
 * @module
 */
import type { ErrorCatalogue } from '@switchboard/protocol';

/** The codes `@switchboard/service` raises. */
export const serviceErrors = {
  SB_ERR_SVC_CONFIG_INVALID: {
    summary:
      'The configuration (file, flags or environment) has a missing, mistyped or out-of-range field; the service refuses to start.',
    surface: 'Printed on stderr as "Invalid configuration: <field>: <reason>", exit code 2',
  },
  SB_ERR_SVC_UNAUTHORIZED: {
    summary:
      'A REST call or a client connection has no bearer token, or one that is not an HS256 JWT signed with an access key, whose audience is not the request URL, or that expired.',
    surface:
      'REST: HTTP 401 {"error": {"code", "message"}}; clients: HTTP 401 on negotiate and on the transport request',
  },
  SB_ERR_SVC_INVALID_REQUEST: {
    summary:
      'A REST call with a bad body (not JSON, no string target, arguments not an array, over the size limit), a bad query (ttl) or a name over its length limit.',
    surface: 'HTTP 400 (413 for a body over the limit) {"error": {"code", "message", "field"}}',
  },
  SB_ERR_SVC_API_VERSION: {
    summary:
      'A REST call without the api-version query parameter, or with a version the service does not serve.',
    surface: 'HTTP 400 {"error": {"code", "message", "field": "api-version"}}',
  },
  SB_ERR_SVC_NOT_FOUND: {
    summary:
      'The hub is not configured, the route does not exist, or the connection, user or group named does not exist (existence checks and connection group changes).',
    surface: 'HTTP 404 ({"error": {"code", "message"}} except on HEAD, which has no body)',
  },
  SB_ERR_SVC_UPSTREAM_FAILED: {
    summary:
      'The upstream endpoint could not be reached, answered with an error status, an unreadable body, or did not answer within the upstream timeout.',
    surface:
      'The client\'s invocation completes with the error "Upstream request failed: <reason>"; a refused connect event closes the connection',
  },
  SB_ERR_SVC_CONNECT_REFUSED: {
    summary: 'The blocking connect event refused the connection (the upstream answered 401, 403 or 4xx).',
    surface:
      'The client\'s connection closes with "Connection closed with an error. HubException: Connection refused by the upstream: <status>"',
  },
  SB_ERR_SVC_INTERNAL: {
    summary: 'An unexpected failure inside the service while serving a REST call.',
    surface: 'HTTP 500 {"error": {"code": "SB_ERR_SVC_INTERNAL", "message": "Internal error."}}; logged',
  },
  SB_ERR_SVC_CLUSTER_TIMEOUT: {
    summary:
      'A node of the cluster did not answer a cluster query (an existence check, a group change) within the cluster timeout; the answer uses the nodes that did.',
    surface: 'Logged as service.cluster_timeout (warning); the REST answer counts the nodes that answered',
    severity: 'warning',
  },
} as const satisfies ErrorCatalogue;

/** A code of {@link serviceErrors}. */
export type ServiceErrorCode = keyof typeof serviceErrors;

/** An error of the service with its catalogue code and, for REST answers, its HTTP status. */
export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly status = 400,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
