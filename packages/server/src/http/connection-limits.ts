/**
 * Per-user and per-IP connection caps (issue #4): a user's phone, tablet and tabs are welcome, a
 * script opening hundreds of connections is not. Counted from negotiate (or the skip-negotiation
 * upgrade) until the connection is disposed, so a storm of negotiates is counted before any of
 * them connects: on this node, or, with shared limits (the workers of `clusterize`), machine-wide
 * in the primary process (docs/server.md#limits-with-workers).
 * @module
 */
import type { SharedLimits } from '../limits/shared-limits.js';

/** Who a connection counts against. */
export interface ConnectionOwner {
  /** The authenticated user, if any. */
  readonly userId: string | undefined;
  /** The client's IP address (behind trusted proxies, the forwarded one). */
  readonly address: string;
}

/** The caps; undefined means no cap. */
export interface ConnectionLimitOptions {
  readonly maxConnectionsPerUser: number | undefined;
  readonly maxConnectionsPerIp: number | undefined;
}

/** The texts a refused client reports (negotiate body, or the handshake error without negotiate). */
export const TOO_MANY_FOR_USER = 'Too many connections for this user.';
export const TOO_MANY_FOR_IP = 'Too many connections from this address.';

/** Counts connections per user and per address against the caps. */
export class ConnectionLimits {
  private readonly byUser = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(
    private readonly options: ConnectionLimitOptions,
    /** Where the counts live when several processes share them; absent: here. */
    private readonly shared?: SharedLimits,
  ) {}

  /** Whether any cap is set (when none is, nothing is counted). */
  get enabled(): boolean {
    return this.options.maxConnectionsPerUser !== undefined || this.options.maxConnectionsPerIp !== undefined;
  }

  /** The refusal text when one more connection of `owner` would go over a cap, else undefined. */
  refusal(owner: ConnectionOwner): string | undefined {
    const { maxConnectionsPerUser, maxConnectionsPerIp } = this.options;
    if (
      maxConnectionsPerUser !== undefined &&
      owner.userId !== undefined &&
      (this.byUser.get(owner.userId) ?? 0) >= maxConnectionsPerUser
    ) {
      return TOO_MANY_FOR_USER;
    }
    if (
      maxConnectionsPerIp !== undefined &&
      (this.byAddress.get(owner.address) ?? 0) >= maxConnectionsPerIp
    ) {
      return TOO_MANY_FOR_IP;
    }
    return undefined;
  }

  /**
   * Counts one more connection of `owner` unless it would go over a cap; answers the refusal text
   * (nothing counted) or undefined (counted: {@link remove} it once the connection is gone). A
   * promise only with shared limits (one round trip to the primary).
   */
  reserve(owner: ConnectionOwner): string | undefined | Promise<string | undefined> {
    if (!this.shared) {
      const refusal = this.refusal(owner);
      if (refusal === undefined) this.add(owner);
      return refusal;
    }
    const { maxConnectionsPerUser, maxConnectionsPerIp } = this.options;
    const keys: { key: string; cap: number; text: string }[] = [];
    if (maxConnectionsPerUser !== undefined && owner.userId !== undefined) {
      keys.push({
        key: `conn-user\u0000${owner.userId}`,
        cap: maxConnectionsPerUser,
        text: TOO_MANY_FOR_USER,
      });
    }
    if (maxConnectionsPerIp !== undefined) {
      keys.push({ key: `conn-ip\u0000${owner.address}`, cap: maxConnectionsPerIp, text: TOO_MANY_FOR_IP });
    }
    if (keys.length === 0) return undefined;
    return this.shared
      .acquire(keys.map(({ key, cap }) => ({ key, cap })))
      .then((refused) => (refused < 0 ? undefined : keys[refused]!.text));
  }

  /** Counts a new connection (on this node). */
  add(owner: ConnectionOwner): void {
    if (owner.userId !== undefined) increment(this.byUser, owner.userId, 1);
    increment(this.byAddress, owner.address, 1);
  }

  /** Uncounts a disposed connection, or a {@link reserve}d place that no connection took. */
  remove(owner: ConnectionOwner): void {
    if (this.shared) {
      const keys: string[] = [];
      if (this.options.maxConnectionsPerUser !== undefined && owner.userId !== undefined) {
        keys.push(`conn-user\u0000${owner.userId}`);
      }
      if (this.options.maxConnectionsPerIp !== undefined) keys.push(`conn-ip\u0000${owner.address}`);
      if (keys.length > 0) this.shared.release(keys);
      return;
    }
    if (owner.userId !== undefined) increment(this.byUser, owner.userId, -1);
    increment(this.byAddress, owner.address, -1);
  }
}

function increment(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
