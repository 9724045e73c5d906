/**
 * The parallel-invocation slots of one connection (docs/protocol.md#parallel-invocations) and the handle a
 * running hub method holds, which it gives back while it waits for a client result.
 * @module
 */
import type { InvocationSlot } from '../hubs/client-proxy.js';

/**
 * Counts the blocking invocations of a connection that are running. New invocations take a free
 * slot or queue (the connection holds them); a method that gave its slot back while it awaited a
 * client result takes one again before any queued invocation starts.
 */
export class InvocationSlots {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  /** The connection is starting queued invocations (guards against re-entry from their ends). */
  startingQueued = false;

  constructor(
    private readonly limit: number,
    /** Once the connection ended, waiting methods go on without a slot. */
    private readonly ended: AbortSignal,
  ) {}

  /** How many slots are taken. */
  get running(): number {
    return this.active;
  }

  /** Takes a slot if one is free and no method waits for it. */
  tryTake(): boolean {
    if (this.active >= this.limit || this.waiters.length > 0) return false;
    this.active++;
    return true;
  }

  /** Takes a slot, waiting for one to free; at once when the connection has ended. */
  take(): Promise<void> {
    if (this.ended.aborted || this.tryTake()) {
      if (this.ended.aborted) this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const grant = () => {
        this.ended.removeEventListener('abort', grant);
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        this.active++;
        resolve();
      };
      this.waiters.push(grant);
      this.ended.addEventListener('abort', grant, { once: true });
    });
  }

  /**
   * Frees a slot. Returns true when the slot is free for a queued invocation, false when a waiting
   * method took it.
   */
  free(): boolean {
    this.active--;
    const waiter = this.waiters[0];
    if (waiter) {
      waiter();
      return false;
    }
    return true;
  }
}

/** Where an {@link InvocationSlotHandle} takes its slot again and gives it back. */
export interface SlotOwner {
  /** Takes a slot, waiting for one to free. */
  takeSlot(): Promise<void>;
  /** A slot was given back: the next queued invocation may start. */
  slotFreed(): void;
}

/**
 * The slot of one running invocation. `release` and `reacquire` come from the hub's client proxies
 * (a client result in flight); `finish` from the connection when the method is done. Whatever the
 * order, the slot is freed exactly once per take.
 */
export class InvocationSlotHandle implements InvocationSlot {
  private held = true;
  private finished = false;

  /** `owner`: the connection (one object, not two closures per invocation). */
  constructor(private readonly owner: SlotOwner) {}

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.owner.slotFreed();
  }

  async reacquire(): Promise<void> {
    if (this.held || this.finished) return;
    await this.owner.takeSlot();
    if (this.finished) this.owner.slotFreed();
    else this.held = true;
  }

  /** The invocation ended: frees the slot when it still holds it. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }
}
