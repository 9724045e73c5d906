/**
 * The channels of a hub's bus, as a typed union: the scale-out core names what it publishes to and
 * subscribes to with these values, and a backend maps each to its own address (a Redis channel, a
 * NATS subject, a table row's target) with {@link channelName}, never by parsing strings.
 * @module
 */

/** Every connection of the hub, on every node. */
export interface AllChannel {
  readonly kind: 'all';
}

/** The members of one group (group names are case-sensitive). */
export interface GroupChannel {
  readonly kind: 'group';
  readonly name: string;
}

/** Every connection of one user. */
export interface UserChannel {
  readonly kind: 'user';
  readonly id: string;
}

/**
 * One connection: subscribed only by the node that holds it (sends to it, group changes for it,
 * client-result invocations, closes).
 */
export interface ConnectionChannel {
  readonly kind: 'connection';
  readonly id: string;
}

/** A node's inbox: acknowledgements of group changes and client results addressed to that node. */
export interface NodeChannel {
  readonly kind: 'node';
  readonly id: string;
}

/**
 * Every channel of a hub's bus. Presence has no channel here: its events travel with the
 * presence backend's atomic operations ({@link PresenceBackend}), which must publish them in the
 * same step as the transition they announce.
 */
export type Channel = AllChannel | GroupChannel | UserChannel | ConnectionChannel | NodeChannel;

/** The kinds of {@link Channel}. */
export type ChannelKind = Channel['kind'];

/** The `all` channel (one shared value). */
export const ALL_CHANNEL: AllChannel = Object.freeze({ kind: 'all' });

/** The channel of a group. */
export function groupChannel(name: string): GroupChannel {
  return { kind: 'group', name };
}

/** The channel of a user. */
export function userChannel(id: string): UserChannel {
  return { kind: 'user', id };
}

/** The channel of a connection. */
export function connectionChannel(id: string): ConnectionChannel {
  return { kind: 'connection', id };
}

/** A node's inbox. */
export function nodeChannel(id: string): NodeChannel {
  return { kind: 'node', id };
}

/**
 * A channel's stable name within its hub: `all`, `group:<name>`, `user:<id>`, `connection:<id>`,
 * `node:<id>`. Two channels are the same exactly when their names are equal, so a backend may key
 * its state by it (and prefix it with the cluster's prefix and the hub's name). The part after the
 * first colon is the name or id as given, unescaped: a backend whose addresses restrict
 * characters (NATS subjects) encodes it itself.
 */
export function channelName(channel: Channel): string {
  switch (channel.kind) {
    case 'all':
      return 'all';
    case 'group':
      return `group:${channel.name}`;
    default:
      return `${channel.kind}:${channel.id}`;
  }
}

/** The channel a {@link channelName} names; undefined for a name that names none. */
export function parseChannelName(name: string): Channel | undefined {
  if (name === 'all') return ALL_CHANNEL;
  const colon = name.indexOf(':');
  if (colon < 0) return undefined;
  const kind = name.slice(0, colon);
  const rest = name.slice(colon + 1);
  switch (kind) {
    case 'group':
      return groupChannel(rest);
    case 'user':
      return userChannel(rest);
    case 'connection':
      return connectionChannel(rest);
    case 'node':
      return nodeChannel(rest);
    default:
      return undefined;
  }
}
