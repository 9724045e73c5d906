/**
 * The server options of the HTTP layer, checked and with their defaults.
 * @module
 */
import { SwitchboardError } from '../errors.js';
import type { HubServerOptions } from '../options.js';
import { serverOptionDefaults } from '../options.js';
import type { TimeProvider } from '../time-provider.js';
import { CorsPolicy } from './cors.js';
import type { HttpDispatcherOptions } from './http-connection-dispatcher.js';
import { negotiateLimitDefaults } from './negotiate-limits.js';

/** Builds the dispatcher's options from the server's. */
export function resolveHttpOptions(
  options: HubServerOptions,
  shared: Pick<HttpDispatcherOptions, 'logger' | 'metrics'> & { time: TimeProvider },
): HttpDispatcherOptions {
  const maxInactive =
    options.maxInactiveConnections === true
      ? negotiateLimitDefaults.maxInactiveConnections
      : options.maxInactiveConnections === false
        ? undefined
        : options.maxInactiveConnections;
  if (maxInactive !== undefined) positive('maxInactiveConnections', maxInactive);
  const rate =
    options.negotiateRateLimit === true
      ? negotiateLimitDefaults.negotiateRateLimit
      : options.negotiateRateLimit === false || options.negotiateRateLimit === undefined
        ? undefined
        : {
            perSecond:
              options.negotiateRateLimit.perSecond ?? negotiateLimitDefaults.negotiateRateLimit.perSecond,
            burst: options.negotiateRateLimit.burst ?? negotiateLimitDefaults.negotiateRateLimit.burst,
          };
  if (rate) {
    positive('negotiateRateLimit.perSecond', rate.perSecond);
    positive('negotiateRateLimit.burst', rate.burst);
  }
  return {
    ...shared,
    authenticate: options.authenticate,
    heartbeatIntervalMs: positive(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? serverOptionDefaults.heartbeatIntervalMs,
    ),
    disconnectTimeoutMs: positive(
      'disconnectTimeoutMs',
      options.disconnectTimeoutMs ?? serverOptionDefaults.disconnectTimeoutMs,
    ),
    minimumNegotiateVersion: options.minimumNegotiateVersion ?? serverOptionDefaults.minimumNegotiateVersion,
    maxWebSocketFrameSize: positive(
      'maxWebSocketFrameSize',
      options.maxWebSocketFrameSize ?? serverOptionDefaults.maxWebSocketFrameSize,
    ),
    longPollTimeoutMs: positive(
      'longPollTimeoutMs',
      options.longPollTimeoutMs ?? serverOptionDefaults.longPollTimeoutMs,
    ),
    cors: new CorsPolicy(options.cors, options.checkOrigin ?? options.cors !== undefined),
    maxInactiveConnections: maxInactive,
    negotiateRateLimit: rate,
    trustProxy: options.trustProxy,
    socketGuard: {
      requestHeadersTimeoutMs: positive(
        'requestHeadersTimeoutMs',
        options.requestHeadersTimeoutMs ?? serverOptionDefaults.requestHeadersTimeoutMs,
      ),
      requestBodyTimeoutMs: positive(
        'requestBodyTimeoutMs',
        options.requestBodyTimeoutMs ?? serverOptionDefaults.requestBodyTimeoutMs,
      ),
      maxSocketsPerIp: optionalPositive('maxSocketsPerIp', options.maxSocketsPerIp),
      trustProxy: options.trustProxy,
    },
    connectionLimits: {
      maxConnectionsPerUser: optionalPositive('maxConnectionsPerUser', options.maxConnectionsPerUser),
      maxConnectionsPerIp: optionalPositive('maxConnectionsPerIp', options.maxConnectionsPerIp),
    },
  };
}

/** Checks the forwarding options (`clusterSecret`, `advertiseUrl`); returns the advertised origin. */
export function checkForwardingOptions(options: HubServerOptions): string | undefined {
  const secret = options.clusterSecret;
  if (secret !== undefined && !(typeof secret === 'string' || secret instanceof Uint8Array)) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      "Option 'clusterSecret' must be a string or bytes.",
    );
  }
  if (secret !== undefined && secret.length === 0) {
    throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', "Option 'clusterSecret' must not be empty.");
  }
  const url = options.advertiseUrl;
  if (url === undefined) return undefined;
  if (secret === undefined) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      "Option 'advertiseUrl' needs 'clusterSecret': without it no request is forwarded.",
    );
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
    parsed.pathname !== '/' ||
    parsed.search ||
    parsed.hash
  ) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Option 'advertiseUrl' must be an http or https URL with no path (http://host:port), got '${url}'.`,
    );
  }
  return parsed.origin;
}

function optionalPositive(name: string, value: number | undefined): number | undefined {
  return value === undefined ? undefined : positive(name, value);
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new SwitchboardError('SB_ERR_HUB_CONFIGURATION', `Option '${name}' must be a positive number.`);
  }
  return value;
}
