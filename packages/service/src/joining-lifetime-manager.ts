/**
 * {@link JoiningLifetimeManager}: the lifetime manager every hub of the service runs with. It
 * delegates everything to the manager it wraps (the backplane's, or an in-memory one), but a
 * connection's registration ends only once the connection has joined its groups (the connect
 * event's and its user's memberships). The server answers the handshake after the registration,
 * so a group send made as soon as the client is connected reaches it.
 * @module
 */
import {
  DelegatingHubLifetimeManager,
  type HubConnectionRef,
  type HubLifetimeManager,
} from '@switchboard/server';

/** What runs as a connection registers and after it left. */
export interface ConnectionSetup {
  /** Joins the connection's groups; a rejection refuses the connection (it is unregistered). */
  joined(connection: HubConnectionRef): Promise<void>;
  /** Forgets the connection (before the wrapped manager unregisters it). */
  left(connection: HubConnectionRef): void;
}

/** A lifetime manager whose `onConnected` also joins the connection's groups (see the module). */
export class JoiningLifetimeManager extends DelegatingHubLifetimeManager {
  constructor(
    inner: HubLifetimeManager,
    private readonly setup: ConnectionSetup,
  ) {
    super(inner);
  }

  override async onConnected(connection: HubConnectionRef): Promise<void> {
    await this.inner.onConnected(connection);
    try {
      await this.setup.joined(connection);
    } catch (error) {
      // The server does not call onDisconnected for a connection whose registration failed.
      this.setup.left(connection);
      await this.inner.onDisconnected(connection).catch(() => {});
      throw error;
    }
  }

  override async onDisconnected(connection: HubConnectionRef): Promise<void> {
    this.setup.left(connection);
    await this.inner.onDisconnected(connection);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
