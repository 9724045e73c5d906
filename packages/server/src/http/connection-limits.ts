/**
 * Per-user and per-IP connection caps (issue #4): a user's phone, tablet and tabs are welcome, a
 * script opening hundreds of connections is not. Counted on this node, from negotiate (or the
 * skip-negotiation upgrade) until the connection is disposed, so a storm of negotiates is counted
 * before any of them connects.
 * @module
 */

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

  constructor(private readonly options: ConnectionLimitOptions) {}

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

  /** Counts a new connection. */
  add(owner: ConnectionOwner): void {
    if (owner.userId !== undefined) increment(this.byUser, owner.userId, 1);
    increment(this.byAddress, owner.address, 1);
  }

  /** Uncounts a disposed connection. */
  remove(owner: ConnectionOwner): void {
    if (owner.userId !== undefined) increment(this.byUser, owner.userId, -1);
    increment(this.byAddress, owner.address, -1);
  }
}

function increment(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
