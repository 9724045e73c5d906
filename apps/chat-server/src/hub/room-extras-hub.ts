/**
 * What the chat hub needs for favourites, invite links and thread states, and how the app builds
 * it (the thread states service listens to every new reply).
 * @module
 */
import { FavouriteService } from '../domain/favourites.js';
import { InviteService } from '../domain/invites.js';
import type { MessageService } from '../domain/messages.js';
import type { ServiceDeps } from '../domain/ports.js';
import type { RoomService } from '../domain/rooms.js';
import { ThreadStateService } from '../domain/thread-states.js';

/** The services behind `setFavourite`, the invite methods and `listThreadStates`. */
export interface RoomExtrasHubDeps {
  readonly favourites: FavouriteService;
  readonly invites: InviteService;
  readonly threadStates: ThreadStateService;
}

/** Builds the services and hooks the thread states to the messages' new replies. */
export function roomExtras(
  services: ServiceDeps,
  rooms: RoomService,
  messages: MessageService,
): RoomExtrasHubDeps {
  const threadStates = new ThreadStateService(services, rooms);
  messages.replyListeners.push((reply) => threadStates.replied(reply));
  return {
    favourites: new FavouriteService(services, rooms),
    invites: new InviteService(services, rooms),
    threadStates,
  };
}
