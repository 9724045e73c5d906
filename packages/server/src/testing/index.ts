/**
 * `@switchboard/server/testing`: what tests use. The in-memory loopback backplane runs the whole
 * scale-out core (several nodes, replay logs, outages, presence) in one process, without
 * services.
 *
 * @example
 * ```ts
 * import { HubServer } from '@switchboard/server';
 * import { LoopbackNetwork, LoopbackPresenceNetwork, loopbackBackplane } from '@switchboard/server/testing';
 *
 * const network = new LoopbackNetwork();
 * const presenceNetwork = new LoopbackPresenceNetwork();
 * const a = new HubServer({ backplane: loopbackBackplane({ network, presenceNetwork, nodeId: 'a' }) });
 * const b = new HubServer({ backplane: loopbackBackplane({ network, presenceNetwork, nodeId: 'b' }) });
 * ```
 * @module
 */
export { type LoopbackBackplaneOptions, loopbackBackplane } from '../scaleout/create-backplane.js';
export { LoopbackNetwork, type LoopbackNetworkOptions } from '../scaleout/loopback-bus.js';
export { LoopbackPresenceNetwork, type LoopbackPresenceOptions } from '../scaleout/loopback-presence.js';
