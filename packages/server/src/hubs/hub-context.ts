import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
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
  };
}
