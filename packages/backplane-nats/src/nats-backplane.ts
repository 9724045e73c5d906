/**
 * `natsBackplane()`: a node's backplane on NATS JetStream, the one object an application passes to
 * `new HubServer({ backplane })`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type Backplane,
  type BackplaneCommonOptions,
  backendError,
  backplanePresenceOptions,
  createBackplane,
  ScaleoutPresenceStore,
  withTimeout,
} from '@switchboard/server/scaleout';
import type { NatsOptions } from './nats-backplane-options.js';
import { natsNode } from './nats-node.js';

/** Options of {@link natsBackplane}: where NATS is and the replay window, and the core's options. */
export interface NatsBackplaneOptions extends NatsOptions, BackplaneCommonOptions {}

/**
 * A cluster node's backplane on NATS JetStream (nats-server 2.9 or later, with JetStream on):
 * every hub's lifetime manager over a NATS bus of its own (`NatsBus`), and the presence store over the
 * NATS key-value presence backend. Every node of a cluster uses the same NATS and `prefix`, each
 * with its own `nodeId`.
 *
 * @example
 * ```ts
 * const hubs = new HubServer({
 *   backplane: natsBackplane({ url: process.env.NATS_URL, prefix: 'chat:', nodeId: 'node-a' }),
 * });
 * hubs.mapHub('/chat', ChatHub);
 * await hubs.ready();
 * ```
 */
export function natsBackplane(options: NatsBackplaneOptions = {}): Backplane {
  const nodeId = options.nodeId ?? randomUUID();
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const node = natsNode({
    ...options,
    nodeId,
    // Faults of the connection itself (the buses and presence report their own through the core).
    onError: (error) => {
      options.logger?.warn('backplane.error', {
        code: error.code,
        message: error.message,
        backend: 'nats',
        nodeId,
      });
      options.onError?.(error);
    },
  });
  return createBackplane({
    ...options,
    nodeId,
    backend: 'nats',
    bus: node.bus,
    presence: (id) =>
      new ScaleoutPresenceStore({
        ...backplanePresenceOptions(options, id, 'SB_PRESENCE_LISTENER_FAILED'),
        backend: node.presence,
      }),
    start: async () => {
      if ((await withTimeout(node.link.connection, readyTimeoutMs)) === undefined) {
        const what = `no connection to ${describe(options)} within ${readyTimeoutMs} ms`;
        throw backendError('nats', 'SB_ERR_BACKPLANE_UNAVAILABLE', what);
      }
    },
    close: () => node.close(),
  });
}

function describe(options: NatsOptions): string {
  const servers = options.servers ?? options.url ?? 'nats://127.0.0.1:4222';
  return typeof servers === 'string' || Array.isArray(servers) ? String(servers) : 'the NATS servers';
}
