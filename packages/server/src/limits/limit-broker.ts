/**
 * {@link LimitBroker}: the primary side of the shared limits (shared-limits.ts). It holds every
 * counter and token bucket of the machine's workers, each request one synchronous step (atomic),
 * and the per-user invocation budgets' shares. A worker that goes away gives back all it held.
 * @module
 */
import { TokenBuckets } from '../http/negotiate-limits.js';
import { listenOnPort } from '../scaleout/inbox-messages.js';
import { isLimitsMessage, type LimitsPush, type LimitsRequest } from './limit-messages.js';

/** One end of a worker's IPC channel as the primary sees it (a cluster `Worker`, a `ChildProcess`). */
export interface LimitsPort {
  /** Sends a message to the worker. */
  send?(message: LimitsPush): boolean;
  /** Receives the worker's messages, and `disconnect` once its channel closed. */
  on(event: 'message' | 'disconnect', listener: (message: unknown) => void): unknown;
  /** Stops receiving. */
  off(event: 'message' | 'disconnect', listener: (message: unknown) => void): unknown;
}

class Peer {
  /** Places held, by counter. */
  readonly counts = new Map<string, number>();
  /** Holders of each budget. */
  readonly holds = new Map<string, number>();
  constructor(readonly port: LimitsPort) {}
  push(message: LimitsPush): void {
    try {
      this.port.send?.(message);
    } catch {
      // The channel closed: `disconnect` detaches the peer.
    }
  }
}

/**
 * Holds the limits of the workers attached to it; one per machine, in the primary (`clusterize`
 * attaches each worker it forks).
 */
export class LimitBroker {
  private readonly peers = new Set<Peer>();
  private readonly counts = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBuckets>();
  /** Budget → the peers holding it, with their holders. */
  private readonly budgets = new Map<string, Map<Peer, number>>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The machine-wide count of `key` (for tests and diagnostics). */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Serves a worker's channel until it disconnects; returns a function that detaches it earlier. */
  attach(port: LimitsPort): () => void {
    const peer = new Peer(port);
    this.peers.add(peer);
    return listenOnPort(
      port,
      (message) => {
        if (isLimitsMessage(message)) this.handle(peer, message as LimitsRequest);
      },
      () => this.detach(peer),
    );
  }

  private detach(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    for (const [key, held] of peer.counts) this.add(key, -held);
    peer.counts.clear();
    for (const key of peer.holds.keys()) {
      const byPeer = this.budgets.get(key);
      byPeer?.delete(peer);
      this.announce(key);
    }
    peer.holds.clear();
  }

  private handle(peer: Peer, request: LimitsRequest): void {
    switch (request.sbLimits) {
      case 'acquire': {
        const refused = request.keys.findIndex(({ key, cap }) => (this.counts.get(key) ?? 0) >= cap);
        if (refused < 0) {
          for (const { key } of request.keys) {
            this.add(key, 1);
            peer.counts.set(key, (peer.counts.get(key) ?? 0) + 1);
          }
        }
        peer.push({ sbLimits: 'reply', id: request.id, value: refused });
        return;
      }
      case 'release':
        for (const key of request.keys) {
          const held = peer.counts.get(key) ?? 0;
          if (held <= 0) continue;
          if (held === 1) peer.counts.delete(key);
          else peer.counts.set(key, held - 1);
          this.add(key, -1);
        }
        return;
      case 'take': {
        const kind = `${request.perSecond}/${request.burst}`;
        let buckets = this.buckets.get(kind);
        if (!buckets) {
          buckets = new TokenBuckets(request.perSecond, request.burst);
          this.buckets.set(kind, buckets);
        }
        peer.push({ sbLimits: 'reply', id: request.id, value: buckets.take(request.key, this.now()) });
        return;
      }
      case 'hold': {
        const held = (peer.holds.get(request.key) ?? 0) + request.delta;
        if (held > 0) peer.holds.set(request.key, held);
        else peer.holds.delete(request.key);
        let byPeer = this.budgets.get(request.key);
        if (!byPeer) {
          byPeer = new Map();
          this.budgets.set(request.key, byPeer);
        }
        if (held > 0) byPeer.set(peer, held);
        else byPeer.delete(peer);
        this.announce(request.key);
        return;
      }
    }
  }

  /** Tells each peer holding the budget `key` its share: its holders over all. */
  private announce(key: string): void {
    const byPeer = this.budgets.get(key);
    if (!byPeer || byPeer.size === 0) {
      this.budgets.delete(key);
      return;
    }
    let total = 0;
    for (const held of byPeer.values()) total += held;
    for (const [peer, held] of byPeer) peer.push({ sbLimits: 'share', key, share: held / total });
  }

  private add(key: string, by: number): void {
    const next = (this.counts.get(key) ?? 0) + by;
    if (next <= 0) this.counts.delete(key);
    else this.counts.set(key, next);
  }
}
