/**
 * The chat's limits as options of the hub server: connections per user, sockets and negotiates per IP, and
 * invocations per user and per connection (typing apart: it has its own limit, `TYPING_RATE_LIMIT`,
 * and beyond it notices are dropped, not refused). Each comes from an environment variable; 0 turns
 * it off. No address is exempt.
 * @module
 */
import type { HubServerOptions, RateLimitOptions } from '@switchboard/server';
import type { ChatConfig } from './config.js';

/** How many seconds of `INVOKE_RATE_LIMIT` a burst holds: a client's catch-up after a reconnect. */
export const INVOKE_BURST_SECONDS = 10;

/**
 * The server options for `MAX_CONNECTIONS_PER_USER`, `MAX_SOCKETS_PER_IP`, `NEGOTIATE_RATE_LIMIT`
 * and `TRUST_PROXY`.
 */
export function connectionLimits(
  config: ChatConfig,
): Pick<HubServerOptions, 'maxConnectionsPerUser' | 'maxSocketsPerIp' | 'negotiateRateLimit' | 'trustProxy'> {
  return {
    ...(config.maxConnectionsPerUser > 0 ? { maxConnectionsPerUser: config.maxConnectionsPerUser } : {}),
    // Sockets of the HTTP server (the hub server guards it once attached), web app and API included.
    ...(config.maxSocketsPerIp > 0 ? { maxSocketsPerIp: config.maxSocketsPerIp } : {}),
    negotiateRateLimit:
      config.negotiateRateLimit > 0
        ? { perSecond: config.negotiateRateLimit / 60, burst: config.negotiateRateLimit }
        : false,
    // One proxy in front appends the client's address to X-Forwarded-For.
    ...(config.trustProxy ? { trustProxy: 1 } : {}),
  };
}

/** The hub's rate limit for `INVOKE_RATE_LIMIT`: per user and per connection, typing left out. */
export function invokeRateLimit(config: ChatConfig): RateLimitOptions | false {
  const rate = config.invokeRateLimit;
  if (rate === 0) return false;
  const limit = { rate, burst: rate * INVOKE_BURST_SECONDS };
  return { perConnection: limit, perUser: limit, methods: { typing: false } };
}
