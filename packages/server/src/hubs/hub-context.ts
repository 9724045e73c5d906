import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
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
 * ```
 */
export interface HubContext<T extends object = DynamicClientMethods> {
  /** Every way to reach clients. */
  readonly clients: HubClients<T>;
  /** Group membership. */
  readonly groups: GroupManager;
}

/** Builds the {@link HubContext} of a hub's lifetime manager. */
export function createHubContext<T extends object>(manager: HubLifetimeManager): HubContext<T> {
  return { clients: new DefaultHubClients<T>(manager), groups: new DefaultGroupManager(manager) };
}
