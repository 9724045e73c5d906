/**
 * The per-account login limit: a backoff, not a lockout. Failed logins of one account are counted
 * in the storage (so every node sees them); past `LOGIN_ACCOUNT_LIMIT` of them, each further
 * attempt must wait, 1 s after the first failure past the limit and doubling up to
 * `LOGIN_BACKOFF_MAX_SECONDS`. Attempts that must wait are refused before the password is checked
 * (`SB_CHAT_RATE_LIMITED` with `Retry-After`), so guessing gets no answer.
 *
 * A stranger's failures cannot keep the owner out: the addresses an account signed in from during
 * the last {@link KNOWN_ADDRESS_DAYS} days (kept as hashes) count apart, each with its own backoff,
 * so the owner's known devices keep signing in with the right password while the account is under
 * attack from elsewhere. From a new address the owner waits as long as the attacker does (at most
 * the maximum backoff), then signs in; a success forgets that key's failures. For the same reason
 * the per-address limit (`LOGIN_RATE_LIMIT`) leaves out an account's own known addresses: someone
 * tripping it behind the owner's NAT does not keep the owner out either.
 * @module
 */
import { createHash } from 'node:crypto';
import { ChatError } from '../errors.js';
import type { ChatStorage } from '../storage/storage.js';

/** How long a successful login makes its address a known one. */
export const KNOWN_ADDRESS_DAYS = 90;
/** Failures older than this are forgotten (the count starts again). */
const FAILURE_MEMORY_MS = 24 * 3_600_000;

/** The limit's settings. */
export interface LoginThrottleOptions {
  /** Failures before the backoff starts; 0 turns the per-account limit off. */
  readonly limit: number;
  /** The longest wait, in seconds. */
  readonly maxBackoffSeconds: number;
  /**
   * Attempts per minute per client address (`LOGIN_RATE_LIMIT`, burst the same), for every attempt
   * except those on an account from one of its known addresses (their own backoff covers them).
   * Default: none.
   */
  readonly perAddressPerMinute?: number;
}

/** One login attempt as the throttle tracks it. */
export interface LoginAttempt {
  readonly key: string;
  readonly addressHash: string;
}

/** The per-account backoff over the storage. */
export class LoginThrottle {
  constructor(
    private readonly storage: ChatStorage,
    private readonly options: LoginThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts an attempt on `username` from `address` (`userId` when the account exists): refuses it
   * with `SB_CHAT_RATE_LIMITED` while its key must wait.
   */
  async begin(username: string, address: string, userId: string | undefined): Promise<LoginAttempt> {
    const addressHash = hashAddress(address);
    const since = this.now() - KNOWN_ADDRESS_DAYS * 86_400_000;
    const known =
      userId !== undefined &&
      this.options.limit > 0 &&
      (await this.storage.isKnownLoginAddress(userId, addressHash, since));
    const key = known ? `account:${username}@${addressHash}` : `account:${username}`;
    const perMinute = this.options.perAddressPerMinute ?? 0;
    if (!known && perMinute > 0) {
      if (!(await this.storage.takeRateToken(`login-ip:${address}`, perMinute / 60, perMinute))) {
        throw new ChatError(
          'SB_CHAT_RATE_LIMITED',
          'Too many login attempts from this address; try again later.',
          {
            retryAfterSeconds: Math.max(1, Math.ceil(60 / perMinute)),
          },
        );
      }
    }
    if (this.options.limit > 0) {
      const wait = (await this.storage.loginBlockedUntil(key)) - this.now();
      if (wait > 0) {
        throw new ChatError(
          'SB_CHAT_RATE_LIMITED',
          'Too many failed logins for this account; wait before trying again.',
          { retryAfterSeconds: Math.ceil(wait / 1000) },
        );
      }
    }
    return { key, addressHash };
  }

  /** Counts a failed attempt; past the limit, the key waits (doubling). */
  async failed(attempt: LoginAttempt): Promise<void> {
    if (this.options.limit === 0) return;
    const now = this.now();
    const failures = await this.storage.addLoginFailure(attempt.key, now, now - FAILURE_MEMORY_MS);
    if (failures < this.options.limit) return;
    const seconds = Math.min(
      2 ** Math.min(failures - this.options.limit, 30),
      this.options.maxBackoffSeconds,
    );
    await this.storage.blockLogin(attempt.key, now + seconds * 1000);
  }

  /** A new account: the address it registered from is a known address. */
  async registered(userId: string, address: string): Promise<void> {
    if (this.options.limit === 0) return;
    await this.storage.rememberLoginAddress(userId, hashAddress(address), this.now());
  }

  /** A successful attempt: the key's failures are forgotten and the address becomes known. */
  async succeeded(attempt: LoginAttempt, userId: string): Promise<void> {
    if (this.options.limit === 0) return;
    await this.storage.clearLoginFailures(attempt.key);
    await this.storage.rememberLoginAddress(userId, attempt.addressHash, this.now());
  }
}

/** An address as the storage keeps it: not the address itself. */
function hashAddress(address: string): string {
  return createHash('sha256').update(address).digest('hex').slice(0, 32);
}
