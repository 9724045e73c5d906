import type { TimeProvider, TimerHandle } from '@switchboard/server';

interface ManualTimer {
  readonly seq: number;
  due: number;
  readonly interval: number | undefined;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A {@link TimeProvider} whose clock only moves when a test calls {@link advance}, so that a 30 s
 * timeout runs in a millisecond and never flakes.
 *
 * @example
 * ```ts
 * const time = new ManualTimeProvider();
 * const server = await startTestServer(map, { timeProvider: time });
 * time.advance(15_000); // fires every heartbeat tick due in those 15 s, in order
 * ```
 */
export class ManualTimeProvider implements TimeProvider {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /** @param start - the initial reading of {@link now}. */
  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, Math.max(1, ms));
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, undefined);
  }

  /** Timers not yet fired (timeouts) or not cancelled (intervals). */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves the clock forward by `ms`, firing every timer that falls due on the way, earliest first
   * (ties in the order they were set). The clock reads each timer's due time while it runs, and
   * timers set by a callback fire within the same call when they fall due in the window.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('advance() takes a non-negative number of milliseconds');
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.current = Math.max(this.current, next.due);
      if (next.interval === undefined) {
        next.cancelled = true;
      } else {
        next.due += next.interval;
      }
      next.callback();
      this.timers = this.timers.filter((t) => !t.cancelled);
    }
    this.current = target;
  }

  private nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (timer.cancelled || timer.due > limit) continue;
      if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    }
    return best;
  }

  private add(callback: () => void, ms: number, interval: number | undefined): TimerHandle {
    const timer: ManualTimer = {
      seq: this.seq++,
      due: this.current + Math.max(0, ms),
      interval,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
}
