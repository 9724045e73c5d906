/**
 * Limits on negotiate itself, off by default: a cap on connections negotiated and not yet used,
 * and a token bucket per client IP. Also how the client IP is found behind trusted proxies.
 * @module
 */
import type { IncomingMessage } from 'node:http';

/** A negotiate rate per client IP. */
export interface NegotiateRateLimit {
  /** Tokens added per second. Default 5. */
  perSecond?: number;
  /** The bucket's size: how many negotiates in a burst. Default 20. */
  burst?: number;
}

/** The values `true` turns on. */
export const negotiateLimitDefaults = {
  /** `maxInactiveConnections: true`. */
  maxInactiveConnections: 10_000,
  /** `negotiateRateLimit: true`. */
  negotiateRateLimit: { perSecond: 5, burst: 20 },
} as const;

/**
 * Which proxies may set `X-Forwarded-For`: a number of hops (the client is that many addresses
 * from the right of socket + header) or the proxies' addresses (the client is the first address
 * from the right that is not one of them). Without it the socket's address is the client.
 */
export type TrustProxy = number | readonly string[];

/** The client's IP address for rate limiting (8.x): the socket's, or X-Forwarded-For's behind trusted proxies. */
export function clientAddress(req: IncomingMessage, trust: TrustProxy | undefined): string {
  const socket = normalizeIp(req.socket.remoteAddress ?? '');
  if (trust === undefined || (typeof trust === 'number' && trust <= 0)) return socket;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((a) => normalizeIp(a.trim()))
    .filter((a) => a.length > 0);
  const chain = [...forwarded, socket];
  if (typeof trust === 'number') return chain[Math.max(0, chain.length - 1 - trust)]!;
  const trusted = new Set(trust.map(normalizeIp));
  for (let i = chain.length - 1; i >= 0; i--) {
    if (!trusted.has(chain[i]!)) return chain[i]!;
  }
  return chain[0]!;
}

/** An address as the limits compare them: lower case, IPv4-mapped IPv6 as plain IPv4. */
export function normalizeIp(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by key, pruned when they would be full again. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private lastPrune = 0;

  constructor(
    perSecond: number,
    private readonly burst: number,
  ) {
    this.perMs = perSecond / 1000;
  }

  /** Takes one token for `key` at `now`; false when the bucket is empty. */
  take(key: string, now: number): boolean {
    this.prune(now);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** How many keys are tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    const refill = this.burst / this.perMs;
    if (now - this.lastPrune < Math.min(refill, 60_000)) return;
    this.lastPrune = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.burst) this.buckets.delete(key);
    }
  }
}
