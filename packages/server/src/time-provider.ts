/**
 * Time as the server sees it. Every timeout and interval of the server runs off one heartbeat
 * driven by a {@link TimeProvider}, so tests can pass a manual provider and run a 30 s rule in a
 * millisecond (packages/testkit has `ManualTimeProvider`).
 * @module
 */

/** A handle returned by {@link TimeProvider.setInterval}. */
export interface TimerHandle {
  /** Stops the timer. Calling it twice is harmless. */
  cancel(): void;
}

/** The clock and the repeating timer the server uses. */
export interface TimeProvider {
  /** Milliseconds since some fixed point; only differences matter. */
  now(): number;
  /** Calls `callback` every `ms` milliseconds until cancelled. Must not keep the process alive. */
  setInterval(callback: () => void, ms: number): TimerHandle;
  /** Calls `callback` once after `ms` milliseconds unless cancelled. Must not keep the process alive. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
}

/** The real clock: `performance.now()` and unref'd Node timers. */
export const systemTimeProvider: TimeProvider = {
  now: () => performance.now(),
  setInterval(callback, ms) {
    const timer = setInterval(callback, ms);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
