import type { CloseConnectionOptions, HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
import type { HubPresence } from '../presence/hub-presence.js';
import {
  DefaultGroupManager,
  DefaultHubClients,
  type DynamicClientMethods,
  type GroupManager,
  type HubClients,
} from './client-proxy.js';

/**
 * A hub's clients and groups for code outside hub methods: an HTTP route, a timer, a queue
 * consumer (ASP.NET's IHubContext). Get one with `server.hubContext(path)`.
 *
 * @example
 * ```ts
 * const chat = server.hubContext<ChatClient>('/hubs/chat');
 * app.post('/announce', async (req, res) => {
 *   await chat.clients.all.send('announcement', req.body.text);
 *   res.sendStatus(204);
 * });
 * // a client result, from outside a hub:
 * const where = await chat.clients.client(connectionId).invoke('getLocation');
 * ```
 */
export interface HubContext<T extends object = DynamicClientMethods> {
  /** Every way to reach clients. */
  readonly clients: HubClients<T>;
  /** Group membership. */
  readonly groups: GroupManager;
  /** Who is online, their connections, the users of this hub's groups, and presence events. */
  readonly presence: HubPresence;
  /** Ends connections from the server side: one, or every connection of a user, on every node. */
  readonly connections: HubConnections;
}

/**
 * Ends connections from the server side (moderation, logout everywhere, a revoked account). The
 * client gets a Close message whose error is the reason (`Server returned an error on close:
 * <reason>`), and comes back by itself only when `allowReconnect` is set.
 *
 * @example
 * ```ts
 * await hubs.hubContext('/hubs/chat').connections.closeUser(userId, { reason: 'Signed out.' });
 * ```
 */
export interface HubConnections {
  /** Closes one connection, on whichever node holds it. */
  close(connectionId: string, options?: CloseConnectionOptions): Promise<void>;
  /** Closes every connection of a user, on every node. */
  closeUser(userId: string, options?: CloseConnectionOptions): Promise<void>;
}

/** The {@link HubConnections} of a lifetime manager. */
export function createHubConnections(manager: HubLifetimeManager): HubConnections {
  return {
    close: (connectionId, options) => manager.closeConnection(connectionId, options),
    closeUser: (userId, options) => manager.closeUser(userId, options),
  };
}

/**
 * Builds the {@link HubContext} of a hub's lifetime manager. `clientResultTimeoutMs` is the default
 * timeout of `clients.client(id).invoke(...)` (none when absent).
 */
export function createHubContext<T extends object>(
  manager: HubLifetimeManager,
  presence: HubPresence,
  options: { clientResultTimeoutMs?: number } = {},
): HubContext<T> {
  return {
    clients: new DefaultHubClients<T>(manager, { clientResultTimeoutMs: options.clientResultTimeoutMs }),
    groups: new DefaultGroupManager(manager),
    presence,
    connections: createHubConnections(manager),
  };
}
