/**
 * {@link OriginOrder}: keeps each publishing bus's entries in the order it made them, for a bus
 * without a replay log whose backend stores publishes in the order they reach it (NATS
 * JetStream). A bus numbers its publishes 1, 2, 3 … (its own headers); after a lost connection
 * the order stored is not always the order made: a publish written to the dead socket is sent
 * again after the reconnect, behind one the client library still held and sent first. A reader
 * delivers an origin's entries by number, holding a later one until the ones before it arrive (or,
 * after `holdMs`, counting them lost: the origin died before it could send them again). Written
 * once for every such backend.
 * @module
 */

/** Per origin: the next number to deliver and the entries that wait for it. */
interface OriginState {
  next: number;
  readonly held: Map<number, () => void>;
  timer: NodeJS.Timeout | undefined;
  lastSeen: number;
  /** The next entry starts the numbering again (entries were lost and counted otherwise). */
  resync: boolean;
}

/** How many origins are remembered (each restart of a node's bus is a new one). */
const MAX_ORIGINS = 10_000;

/** Restores the per-origin order of entries read from a stream. */
export class OriginOrder {
  private readonly origins = new Map<string, OriginState>();

  constructor(
    private readonly holdMs: number,
    /** Entries `from..to` of `origin` never arrived within `holdMs`. */
    private readonly onLost: (origin: string, from: number, to: number) => void,
  ) {}

  /** Entries waiting for an earlier one, over every origin. */
  get held(): number {
    let count = 0;
    for (const state of this.origins.values()) count += state.held.size;
    return count;
  }

  /**
   * Hands over entry `n` of `origin`: `deliver` runs now when it is the next one (then what waited
   * behind it), later when earlier ones are missing, never for one delivered already. The first
   * entry seen of an origin starts its numbering.
   */
  accept(origin: string, n: number, deliver: () => void): void {
    let state = this.origins.get(origin);
    if (!state) {
      state = { next: n, held: new Map(), timer: undefined, lastSeen: Date.now(), resync: false };
      this.origins.set(origin, state);
      if (this.origins.size > MAX_ORIGINS) this.forgetOldest();
    }
    state.lastSeen = Date.now();
    if (state.resync) {
      state.resync = false;
      if (n > state.next) state.next = n;
    }
    if (n < state.next) return; // delivered already, or given up for and passed
    if (n > state.next) {
      state.held.set(n, deliver);
      state.timer ??= setTimeout(() => this.giveUp(origin), this.holdMs);
      return;
    }
    deliver();
    state.next++;
    this.drain(origin, state);
  }

  /**
   * Entries left the stream before they were read (a gap the reader counted by sequence): the
   * numbers they carried are unknown, so every origin delivers what it holds and starts again at
   * its next entry instead of waiting for them.
   */
  resync(): void {
    for (const [origin, state] of this.origins) {
      if (state.held.size > 0) state.next = Math.min(...state.held.keys());
      this.drain(origin, state);
      state.resync = true;
    }
  }

  /** Stops the timers (the reader closes). */
  clear(): void {
    for (const state of this.origins.values()) clearTimeout(state.timer);
    this.origins.clear();
  }

  private drain(origin: string, state: OriginState): void {
    for (let next = state.held.get(state.next); next; next = state.held.get(state.next)) {
      state.held.delete(state.next);
      state.next++;
      next();
    }
    clearTimeout(state.timer);
    state.timer = state.held.size > 0 ? setTimeout(() => this.giveUp(origin), this.holdMs) : undefined;
  }

  private giveUp(origin: string): void {
    const state = this.origins.get(origin);
    if (!state || state.held.size === 0) return;
    state.timer = undefined;
    const first = Math.min(...state.held.keys());
    this.onLost(origin, state.next, first - 1);
    state.next = first;
    this.drain(origin, state);
  }

  private forgetOldest(): void {
    let oldest: [string, OriginState] | undefined;
    for (const entry of this.origins)
      if (entry[1].held.size === 0 && (!oldest || entry[1].lastSeen < oldest[1].lastSeen)) oldest = entry;
    if (oldest) this.origins.delete(oldest[0]);
  }
}
