/**
 * Invocation rate limits: token buckets per connection, per user and per hub method, checked before
 * an invocation is dispatched (unknown methods count too). Off unless an app turns them on.
 * @module
 */

import type { SharedLimits } from '../limits/shared-limits.js';
import type { TimeProvider } from '../time-provider.js';

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export interface RateLimit {
  /** Tokens added per second. */
  readonly rate: number;
  /** The most tokens the bucket holds (the largest burst). */
  readonly burst: number;
}

/** Rate-limit options of a hub (or of the server, for every hub). */
export interface RateLimitOptions {
  /** Invocations of one connection. Default 20 per second, burst 40. */
  readonly perConnection?: RateLimit | false;
  /**
   * Invocations of one user across their connections on this node (with the workers of
   * `clusterize`: on this machine, the budget split between the workers by the user's
   * connections on each). Default 50 per second, burst 100.
   */
  readonly perUser?: RateLimit | false;
  /**
   * Extra limits for single methods (by name, any case), per connection. `false` leaves a method out
   * of every limit (one the app limits by itself, such as a chat's typing notices). Default none.
   */
  readonly methods?: Readonly<Record<string, RateLimit | false>>;
  /**
   * Refused invocations within {@link abuseWindowMs} after which the connection is closed with a
   * reason: a client that keeps hammering past its limit is not worth serving. Default 200.
   */
  readonly abuseThreshold?: number;
  /** The window of {@link abuseThreshold}. Default 10,000 ms. */
  readonly abuseWindowMs?: number;
}

/** The documented defaults that `rateLimit: true` turns on. */
export const rateLimitDefaults = {
  perConnection: { rate: 20, burst: 40 },
  perUser: { rate: 50, burst: 100 },
  abuseThreshold: 200,
  abuseWindowMs: 10_000,
} as const;

/** A bucket's state. */
class Bucket {
  private tokens: number;
  private updatedAt: number;
  /** The part of the limit this bucket holds (a worker's share of a user's budget). */
  private scale = 1;

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.updatedAt = now;
  }

  /** Holds `scale` of the limit from now on (its rate and its burst); the tokens above it go. */
  rescale(scale: number, now: number): void {
    this.take(now, 0);
    this.scale = scale;
    this.tokens = Math.min(this.tokens, this.limit.burst * scale);
  }

  /** Takes a token if there is one (`count` 0: only refills). */
  take(now: number, count = 1): boolean {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      const burst = this.limit.burst * this.scale;
      this.tokens = Math.min(burst, this.tokens + (elapsed * this.limit.rate * this.scale) / 1000);
      this.updatedAt = now;
    }
    if (count === 0) return true;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** What a refusal says: which limit, for the error text. */
export type RateLimitVerdict =
  | { ok: true }
  | { ok: false; scope: 'connection' | 'user' | 'method'; abusive: boolean };

/** The per-connection state of a {@link HubRateLimiter}. */
export class ConnectionRateState {
  readonly bucket: Bucket | undefined;
  readonly methodBuckets = new Map<string, Bucket>();
  refusedInWindow = 0;
  windowStartedAt: number;

  constructor(limit: RateLimit | undefined, now: number) {
    this.bucket = limit ? new Bucket(limit, now) : undefined;
    this.windowStartedAt = now;
  }
}

/**
 * The rate limiter of one hub: user buckets shared by a user's connections on this node, and the
 * per-connection state each connection keeps. Users under their limits never notice a flooder: the
 * buckets of one user or connection never touch another's.
 */
export class HubRateLimiter {
  private readonly perConnection: RateLimit | undefined;
  private readonly perUser: RateLimit | undefined;
  private readonly methods: Map<string, RateLimit | false>;
  private readonly abuseThreshold: number;
  private readonly abuseWindowMs: number;
  private readonly users = new Map<
    string,
    { bucket: Bucket; connections: number; onShare: ((share: number) => void) | undefined }
  >();

  constructor(
    options: RateLimitOptions,
    private readonly time: TimeProvider,
    /**
     * With several processes (workers): the per-user budget is split between them, each
     * holding the share of the user's connections it serves (told by the primary at each
     * connect and disconnect), so the invocation path stays local.
     */
    private readonly shared?: { readonly limits: SharedLimits; readonly key: string },
  ) {
    this.perConnection =
      options.perConnection === false
        ? undefined
        : (options.perConnection ?? rateLimitDefaults.perConnection);
    this.perUser = options.perUser === false ? undefined : (options.perUser ?? rateLimitDefaults.perUser);
    this.methods = new Map(
      Object.entries(options.methods ?? {}).map(([name, limit]) => [name.toLowerCase(), limit]),
    );
    this.abuseThreshold = options.abuseThreshold ?? rateLimitDefaults.abuseThreshold;
    this.abuseWindowMs = options.abuseWindowMs ?? rateLimitDefaults.abuseWindowMs;
  }

  /** State for a new connection; its user's shared bucket is created or referenced. */
  attach(userId: string | undefined): ConnectionRateState {
    const now = this.time.now();
    if (userId !== undefined && this.perUser) {
      let entry = this.users.get(userId);
      if (entry) entry.connections++;
      else {
        const bucket = new Bucket(this.perUser, now);
        entry = {
          bucket,
          connections: 1,
          onShare: this.shared && ((share) => bucket.rescale(share, this.time.now())),
        };
        this.users.set(userId, entry);
      }
      if (this.shared) this.shared.limits.hold(this.budgetKey(userId), 1, entry.onShare!);
    }
    return new ConnectionRateState(this.perConnection, now);
  }

  /** Releases a connection's share of its user's bucket. */
  detach(userId: string | undefined): void {
    if (userId === undefined) return;
    const entry = this.users.get(userId);
    if (!entry) return;
    if (this.shared) this.shared.limits.hold(this.budgetKey(userId), -1, entry.onShare!);
    if (--entry.connections === 0) this.users.delete(userId);
  }

  private budgetKey(userId: string): string {
    return `invoke-user\u0000${this.shared!.key}\u0000${userId}`;
  }

  /** Whether one more invocation of `target` may run now. */
  check(state: ConnectionRateState, userId: string | undefined, target: string): RateLimitVerdict {
    const now = this.time.now();
    let scope: 'connection' | 'user' | 'method' | undefined;
    const methodLimit = this.methods.size > 0 ? this.methods.get(target.toLowerCase()) : undefined;
    if (methodLimit === false) return { ok: true };
    if (methodLimit) {
      const key = target.toLowerCase();
      let bucket = state.methodBuckets.get(key);
      if (!bucket) {
        bucket = new Bucket(methodLimit, now);
        state.methodBuckets.set(key, bucket);
      }
      if (!bucket.take(now)) scope = 'method';
    }
    if (!scope && state.bucket && !state.bucket.take(now)) scope = 'connection';
    if (!scope && userId !== undefined) {
      const user = this.users.get(userId);
      if (user && !user.bucket.take(now)) scope = 'user';
    }
    if (!scope) return { ok: true };
    if (now - state.windowStartedAt > this.abuseWindowMs) {
      state.windowStartedAt = now;
      state.refusedInWindow = 0;
    }
    state.refusedInWindow++;
    return { ok: false, scope, abusive: state.refusedInWindow >= this.abuseThreshold };
  }
}
