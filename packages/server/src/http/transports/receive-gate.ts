/**
 * Back-pressure for the transports whose client-to-server data comes in POST requests: while the
 * connection is paused, {@link ReceiveGate.wait} holds the POST's answer, and the official client,
 * which sends one request at a time, sends nothing more (docs/protocol.md#http-send,
 * docs/protocol.md#parallel-invocations).
 */
export class ReceiveGate {
  private waiting: Promise<void> | undefined;
  private release: (() => void) | undefined;

  /** Holds later waiters until {@link open}. */
  close(): void {
    if (this.waiting) return;
    this.waiting = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  /** Lets waiters through. */
  open(): void {
    const release = this.release;
    this.waiting = undefined;
    this.release = undefined;
    release?.();
  }

  /** Resolves at once when open, else when opened. */
  wait(): Promise<void> {
    return this.waiting ?? Promise.resolve();
  }
}
