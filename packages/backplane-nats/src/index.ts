/**
 * `@switchboard/backplane-nats`: Switchboard scale-out on NATS JetStream. Applications use
 * {@link natsBackplane}; the bus, the presence backend and the connection are exported for tests
 * and for building a backplane by hand on the core (`@switchboard/server/scaleout`).
 * @module
 */
export { NatsLink, type NatsLinkOptions } from './link.js';
export { channelSubject, type HubNames, hubNames } from './names.js';
export { type NatsBackplaneOptions, natsBackplane } from './nats-backplane.js';
export { type NatsOptions, natsDefaults } from './nats-backplane-options.js';
export { NatsBus, type NatsBusOptions } from './nats-bus.js';
export { type NatsNode, natsNode } from './nats-node.js';
export { NatsPresenceBackend, type NatsPresenceOptions } from './nats-presence.js';
export { NatsUserGroupStore, type NatsUserGroupStoreOptions } from './nats-user-group-store.js';
