/**
 * Limits shared by the workers of one machine (docs/server.md#limits-with-workers). A `HubServer`
 * run by `clusterize` keeps its connection caps, its socket cap and its negotiate buckets in the
 * primary process, which every worker asks over its IPC channel when a socket opens, a negotiate
 * comes or a connection is born (rare events next to invocations), and splits the per-user
 * invocation budget between the workers that hold the user's connections, so that the invocation
 * path stays local. With N workers a client gets the allowance of one process, never N times it.
 *
 * Worker side here ({@link InboxLimits}); primary side in limit-broker.ts.
 * @module
 */

import cluster from 'node:cluster';
import type { LimitsPush, LimitsRequest } from './limit-messages.js';
import { isLimitsMessage } from './limit-messages.js';

/** One counter to take a place in, with its cap. */
export interface CappedKey {
  readonly key: string;
  readonly cap: number;
}

/**
 * Counters and token buckets kept for several processes. Every method is one atomic step where
 * the state lives.
 */
export interface SharedLimits {
  /**
   * Takes one place in each of `keys` if every one is under its cap: resolves -1, or the index
   * of the first key at its cap (nothing is taken then).
   */
  acquire(keys: readonly CappedKey[]): Promise<number>;
  /** Gives back one place in each of `keys` (once per successful {@link acquire}). */
  release(keys: readonly string[]): void;
  /** Takes a token from the bucket `key` (`perSecond` flowing in, holding `burst`). */
  take(key: string, perSecond: number, burst: number): Promise<boolean>;
  /**
   * This process holds one more (`delta` 1) or one fewer (-1) user of the budget `key`;
   * `onShare` is told this process's share of the budget (its holders over every process's)
   * whenever it changes, and first at once with a cautious guess.
   */
  hold(key: string, delta: 1 | -1, onShare: (share: number) => void): void;
}

/** The environment variable `clusterize` sets in each worker: how many workers it runs. */
export const WORKER_COUNT_ENV = 'SWITCHBOARD_WORKER_COUNT';

/** A request before it is given its id. */
type WithoutId<R> = R extends { id: number } ? Omit<R, 'id'> : never;

interface Pending {
  resolve(value: unknown): void;
}

/** The worker side of the shared limits, over the process's IPC channel to the primary. */
export class InboxLimits implements SharedLimits {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly shares = new Map<
    string,
    { held: number; share: number; listeners: Set<(s: number) => void> }
  >();
  private up: boolean;

  /**
   * @param port the channel (default `process`, a cluster worker's).
   * @param workers how many processes share the limits: a new budget's first guess is 1/workers.
   */
  constructor(
    private readonly port: NodeJS.Process = process,
    private readonly workers = Number(process.env[WORKER_COUNT_ENV] ?? 1) || 1,
  ) {
    this.up = typeof port.send === 'function' && port.connected !== false;
    port.on('message', (message: unknown) => {
      if (isLimitsMessage(message)) this.receive(message as LimitsPush);
    });
    port.on('disconnect', () => {
      this.up = false;
      // Without the primary there is no shared state: refuse rather than multiply.
      for (const pending of this.pending.values()) pending.resolve(undefined);
      this.pending.clear();
    });
  }

  acquire(keys: readonly CappedKey[]): Promise<number> {
    return this.request({ sbLimits: 'acquire', keys }).then((v) => (typeof v === 'number' ? v : 0));
  }

  release(keys: readonly string[]): void {
    this.post({ sbLimits: 'release', keys });
  }

  take(key: string, perSecond: number, burst: number): Promise<boolean> {
    return this.request({ sbLimits: 'take', key, perSecond, burst }).then((v) => v === true);
  }

  hold(key: string, delta: 1 | -1, onShare: (share: number) => void): void {
    let entry = this.shares.get(key);
    if (!entry) {
      if (delta < 0) return;
      entry = { held: 0, share: 1 / this.workers, listeners: new Set() };
      this.shares.set(key, entry);
    }
    entry.held += delta;
    if (delta > 0) {
      entry.listeners.add(onShare);
      onShare(entry.share);
    }
    if (entry.held <= 0) this.shares.delete(key);
    this.post({ sbLimits: 'hold', key, delta });
  }

  private request(request: WithoutId<Extract<LimitsRequest, { id: number }>>): Promise<unknown> {
    if (!this.up) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.post({ ...request, id } as LimitsRequest);
    });
  }

  private post(message: LimitsRequest): void {
    if (!this.up) return;
    try {
      this.port.send?.(message);
    } catch {
      this.up = false;
    }
  }

  private receive(message: LimitsPush): void {
    if (message.sbLimits === 'reply') {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      pending?.resolve(message.value);
      return;
    }
    const entry = this.shares.get(message.key);
    if (!entry) return;
    entry.share = message.share;
    for (const listener of entry.listeners) listener(message.share);
  }
}

let current: InboxLimits | undefined;

/**
 * The shared limits of this process when `clusterize` runs it as a worker (one per process),
 * else undefined. A `HubServer` uses them unless its `sharedLimits` option is `false`.
 */
export function clusterSharedLimits(): InboxLimits | undefined {
  if (current) return current;
  // A child a worker starts inherits the environment, not the primary: node:cluster's own flag.
  if (!cluster.isWorker || process.env[WORKER_COUNT_ENV] === undefined || typeof process.send !== 'function')
    return undefined;
  current = new InboxLimits();
  return current;
}
