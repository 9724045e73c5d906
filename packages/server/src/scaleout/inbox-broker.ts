/**
 * {@link InboxBroker}: the primary side of the in-box bus. The primary process of one machine
 * stands for the shared backend (what a Redis is to a cluster): it routes every publish to the
 * worker processes whose nodes subscribe to its channel, and holds the presence state of the
 * machine's nodes in a {@link LoopbackPresenceNetwork}, whose every transition is one synchronous
 * step (atomic, as a Redis script is). Workers reach it over their IPC channel (inbox-bus.ts).
 * @module
 */

import {
  fromWire,
  type InboxPort,
  type InboxPush,
  type InboxRequest,
  isInboxMessage,
  listenOnPort,
  PRESENCE_OPERATIONS,
  type PresenceOperation,
  toWire,
} from './inbox-messages.js';
import { LoopbackPresenceNetwork } from './loopback-presence.js';
import type { PresenceBackend, PresenceBackendReceiver } from './presence-backend.js';

/** Options of an {@link InboxBroker}. */
export interface InboxBrokerOptions {
  /** How many presence events the log keeps. Default 1 000. */
  readonly presenceLogLength?: number;
}

/** What the broker counts (for tests and metrics). */
export interface InboxBrokerCounters {
  /** Publishes received from workers. */
  published: number;
  /** Messages sent to worker processes for those publishes (one per process, not per node). */
  forwarded: number;
  /** Presence operations run. */
  presenceOperations: number;
}

/** One attached process. */
class Peer {
  binary = true;
  readonly presence = new Map<string, PresenceBackend>();
  constructor(readonly port: InboxPort) {}

  push(message: InboxPush): void {
    try {
      this.port.send?.(message);
    } catch {
      // The channel closed under us: the `disconnect` that follows detaches the peer.
    }
  }
}

/**
 * Routes the in-box bus between the processes attached to it. One per machine, in the primary.
 *
 * @example
 * ```ts
 * import cluster from 'node:cluster';
 * const broker = new InboxBroker();
 * cluster.setupPrimary({ serialization: 'advanced' });
 * cluster.on('fork', (worker) => broker.attach(worker));
 * ```
 */
export class InboxBroker {
  /** The presence state of every node of the machine. */
  readonly presenceNetwork: LoopbackPresenceNetwork;
  /** Traffic counters. */
  readonly counters: InboxBrokerCounters = { published: 0, forwarded: 0, presenceOperations: 0 };
  /** `hub\0channel` → the processes subscribed, each with its subscribed nodes. */
  private readonly subscribers = new Map<string, Map<Peer, Set<string>>>();
  private readonly peers = new Set<Peer>();

  constructor(options: InboxBrokerOptions = {}) {
    this.presenceNetwork = new LoopbackPresenceNetwork({
      ...(options.presenceLogLength !== undefined ? { logLength: options.presenceLogLength } : {}),
    });
  }

  /** Processes attached now. */
  get size(): number {
    return this.peers.size;
  }

  /**
   * Serves a process's IPC channel (a cluster `Worker`, a `ChildProcess`, or `process` in a child
   * whose parent hosts the nodes) until it disconnects; returns a function that detaches it
   * earlier. A process that goes away leaves its subscriptions at once and its presence as a node
   * that died does: within its lease.
   */
  attach(port: InboxPort): () => void {
    const peer = new Peer(port);
    this.peers.add(peer);
    return listenOnPort(
      port,
      (message) => {
        if (isInboxMessage(message)) this.handle(peer, message as InboxRequest);
      },
      () => this.detach(peer),
    );
  }

  private detach(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    for (const [key, byPeer] of this.subscribers) {
      byPeer.delete(peer);
      if (byPeer.size === 0) this.subscribers.delete(key);
    }
    // As a killed node: no leave; its lease runs out and a surviving node sweeps it.
    for (const backend of peer.presence.values()) void backend.close();
    peer.presence.clear();
  }

  private handle(peer: Peer, request: InboxRequest): void {
    switch (request.sbInbox) {
      case 'hello':
        peer.binary = request.binary;
        return;
      case 'ping':
        peer.push({ sbInbox: 'reply', id: request.id });
        return;
      case 'sub': {
        const key = `${request.hub}\u0000${request.ch}`;
        let byPeer = this.subscribers.get(key);
        if (!byPeer) {
          byPeer = new Map();
          this.subscribers.set(key, byPeer);
        }
        let nodes = byPeer.get(peer);
        if (!nodes) {
          nodes = new Set();
          byPeer.set(peer, nodes);
        }
        nodes.add(request.node);
        peer.push({ sbInbox: 'reply', id: request.id });
        return;
      }
      case 'unsub':
        this.unsubscribe(peer, `${request.hub}\u0000${request.ch}`, request.node);
        peer.push({ sbInbox: 'reply', id: request.id });
        return;
      case 'closebus':
        for (const [key, byPeer] of [...this.subscribers]) {
          if (key.startsWith(`${request.hub}\u0000`)) this.unsubscribe(peer, key, request.node, byPeer);
        }
        return;
      case 'pub':
        peer.push({ sbInbox: 'reply', id: request.id, value: this.publish(peer, request) });
        return;
      case 'pstart':
        this.startPresence(peer, request);
        return;
      case 'pcall':
        void this.callPresence(peer, request);
        return;
      case 'pclose': {
        const key = `${request.node}\u0000${request.token}`;
        void peer.presence.get(key)?.close();
        peer.presence.delete(key);
        return;
      }
    }
  }

  private unsubscribe(peer: Peer, key: string, node: string, byPeer = this.subscribers.get(key)): void {
    const nodes = byPeer?.get(peer);
    if (!byPeer || !nodes) return;
    nodes.delete(node);
    if (nodes.size === 0) byPeer.delete(peer);
    if (byPeer.size === 0) this.subscribers.delete(key);
  }

  /** Delivers to every subscribed node but the publisher; answers how many nodes subscribe. */
  private publish(from: Peer, request: Extract<InboxRequest, { sbInbox: 'pub' }>): number {
    this.counters.published++;
    const byPeer = this.subscribers.get(`${request.hub}\u0000${request.ch}`);
    if (!byPeer) return 0;
    let receivers = 0;
    let bytes: Uint8Array | undefined;
    for (const [peer, nodes] of byPeer) {
      receivers += nodes.size;
      const targets = peer === from ? [...nodes].filter((n) => n !== request.node) : [...nodes];
      if (targets.length === 0) continue;
      // Re-encode only when the two ends differ in serialization.
      let data = request.data;
      if ((typeof data === 'string') === peer.binary) {
        bytes ??= fromWire(request.data);
        data = toWire(bytes, peer.binary);
      }
      this.counters.forwarded++;
      peer.push({ sbInbox: 'msg', nodes: targets, hub: request.hub, ch: request.ch, data });
    }
    return receivers;
  }

  private startPresence(peer: Peer, request: Extract<InboxRequest, { sbInbox: 'pstart' }>): void {
    const { node, token } = request;
    const receiver: PresenceBackendReceiver = {
      events: (events) => peer.push({ sbInbox: 'pevents', node, token, events }),
      remoteChange: (change) => peer.push({ sbInbox: 'pchange', node, token, change }),
      reconnected: () => {},
      error: () => {},
    };
    const backend = this.presenceNetwork.backend({
      nodeId: node,
      token,
      graceMs: request.graceMs,
      leaseMs: request.leaseMs,
      receiver,
    });
    peer.presence.set(`${node}\u0000${token}`, backend);
    void backend.start().then(() => peer.push({ sbInbox: 'reply', id: request.id }));
  }

  private async callPresence(
    peer: Peer,
    request: Extract<InboxRequest, { sbInbox: 'pcall' }>,
  ): Promise<void> {
    const backend = peer.presence.get(`${request.node}\u0000${request.token}`);
    if (!backend || !PRESENCE_OPERATIONS.includes(request.op)) {
      peer.push({
        sbInbox: 'reply',
        id: request.id,
        error: backend
          ? `unknown presence operation '${request.op}'`
          : `presence of node '${request.node}' not started`,
      });
      return;
    }
    this.counters.presenceOperations++;
    try {
      const operation = backend[request.op as PresenceOperation] as (...args: unknown[]) => Promise<unknown>;
      const value = await operation.apply(backend, request.args as unknown[]);
      peer.push({ sbInbox: 'reply', id: request.id, value });
    } catch (error) {
      peer.push({
        sbInbox: 'reply',
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
