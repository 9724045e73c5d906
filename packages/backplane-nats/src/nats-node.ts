/**
 * A node's NATS parts built from {@link NatsOptions}: the shared connection, the bus factory of its
 * hubs and the presence backend factory. `natsBackplane` wires them into a `Backplane`; tests use
 * them with the core's classes directly.
 * @module
 */
import type { BackplaneError, BusFactory, PresenceBackendFactory } from '@switchboard/server/scaleout';
import { NatsLink } from './link.js';
import { type NatsOptions, natsDefaults } from './nats-backplane-options.js';
import { NatsBus } from './nats-bus.js';
import { NatsPresenceBackend } from './nats-presence.js';

/** A node's connection to NATS with the factories the core needs. */
export interface NatsNode {
  /** The shared connection (closed by {@link close}). */
  readonly link: NatsLink;
  /** Builds a hub's bus. */
  readonly bus: BusFactory;
  /** Builds the node's presence backend. */
  readonly presence: PresenceBackendFactory;
  /** Closes the connection (after the buses and presence are closed). */
  close(): Promise<void>;
}

/**
 * Connects a node (in the background: the connection retries until NATS answers) and returns the
 * factories of its buses and presence.
 */
export function natsNode(
  options: NatsOptions & { readonly nodeId: string; readonly onError: (error: BackplaneError) => void },
): NatsNode {
  const prefix = options.prefix ?? natsDefaults.prefix;
  const storage = options.storage ?? natsDefaults.storage;
  const link = new NatsLink({
    servers: options.servers ?? options.url ?? natsDefaults.url,
    name: `switchboard ${prefix} ${options.nodeId}`,
    onError: options.onError,
  });
  return {
    link,
    bus: (context) =>
      new NatsBus(link, context, {
        prefix,
        storage,
        maxLen: options.maxLen ?? natsDefaults.maxLen,
        maxAgeMs: options.maxAgeMs ?? natsDefaults.maxAgeMs,
        maxQueuedPublishes: options.maxQueuedPublishes ?? natsDefaults.maxQueuedPublishes,
      }),
    presence: (context) =>
      new NatsPresenceBackend(link, context, {
        prefix,
        storage,
        eventLogLength: options.presenceEventLogLength ?? natsDefaults.presenceEventLogLength,
      }),
    close: () => link.close(),
  };
}
