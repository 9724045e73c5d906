/**
 * This node's connections of each user, and of each token: what lets the chat put every device of
 * a user into a room's group when they join it, and end a token's connections at logout.
 * @module
 */

/** One live connection. */
export interface RegisteredConnection {
  readonly connectionId: string;
  readonly userId: string;
  /** The id of the token it authenticated with. */
  readonly jti: string | undefined;
  /** Ends the connection (without reconnect). */
  readonly abort: () => void;
}

/** The local connections by user and by token. */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Map<string, RegisteredConnection>>();
  private readonly byToken = new Map<string, Set<RegisteredConnection>>();

  /** Adds a connection; true when it is the user's first on this node. */
  add(connection: RegisteredConnection): boolean {
    const first = !this.byUser.has(connection.userId);
    const mine = this.byUser.get(connection.userId) ?? new Map<string, RegisteredConnection>();
    this.byUser.set(connection.userId, mine);
    mine.set(connection.connectionId, connection);
    if (connection.jti) {
      const set = this.byToken.get(connection.jti) ?? new Set();
      set.add(connection);
      this.byToken.set(connection.jti, set);
    }
    return first;
  }

  /** Removes a connection; true when it was the user's last on this node. */
  remove(userId: string, connectionId: string): boolean {
    const mine = this.byUser.get(userId);
    const connection = mine?.get(connectionId);
    if (!mine || !connection) return false;
    mine.delete(connectionId);
    if (connection.jti) {
      const set = this.byToken.get(connection.jti);
      set?.delete(connection);
      if (set?.size === 0) this.byToken.delete(connection.jti);
    }
    if (mine.size > 0) return false;
    this.byUser.delete(userId);
    return true;
  }

  /** The connection ids of a user on this node. */
  connectionsOf(userId: string): string[] {
    return [...(this.byUser.get(userId)?.keys() ?? [])];
  }

  /** Whether the user has a connection on this node. */
  isOnline(userId: string): boolean {
    return this.byUser.has(userId);
  }

  /** Ends every connection that authenticated with the token. */
  abortToken(jti: string): void {
    for (const connection of [...(this.byToken.get(jti) ?? [])]) connection.abort();
  }
}
