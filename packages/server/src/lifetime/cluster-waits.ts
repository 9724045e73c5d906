/**
 * What a scale-out node keeps about other nodes: the acknowledgements of remote group changes it
 * waits for, and the invocations of callers on other nodes to its own connections (client results
 * its own callers wait for are in `ClientResultTracker`). Shared by the backplanes.
 * @module
 */

/** Acknowledgements a node waits for, by request number, each with a timeout. */
export class PendingAcks {
  /** @param timeoutError the error a wait rejects with when no acknowledgement came in time. */
  constructor(private readonly timeoutError: (connectionId: string) => Error) {}

  private readonly pending = new Map<
    number,
    { resolve(): void; reject(e: unknown): void; timer: NodeJS.Timeout }
  >();

  /** Waits for request `q`'s acknowledgement; rejects with the timeout error after timeoutMs. */
  wait(q: number, connectionId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(q);
        reject(this.timeoutError(connectionId));
      }, timeoutMs);
      this.pending.set(q, { resolve, reject, timer });
    });
  }

  /** Resolves request `q` (an acknowledgement, or nobody holds the connection). */
  resolve(q: number): void {
    const entry = this.pending.get(q);
    if (!entry) return;
    this.pending.delete(q);
    clearTimeout(entry.timer);
    entry.resolve();
  }

  /** Rejects everything (the manager closes). */
  failAll(error: unknown): void {
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.pending.clear();
  }
}

/**
 * On the node that holds a connection: the invocations of callers on other nodes that wait for
 * the connection's Completion (connection id, then invocation id, to the caller's node id).
 */
export class RemoteInvocations {
  private readonly byConnection = new Map<string, Map<string, string>>();

  /** Records that `callerNode` waits for the Completion of `invocationId` from a local connection. */
  add(connectionId: string, invocationId: string, callerNode: string): void {
    let byId = this.byConnection.get(connectionId);
    if (!byId) {
      byId = new Map();
      this.byConnection.set(connectionId, byId);
    }
    byId.set(invocationId, callerNode);
  }

  /** Removes one and returns its caller's node; undefined when it is not waiting. */
  take(connectionId: string, invocationId: string): string | undefined {
    const byId = this.byConnection.get(connectionId);
    const caller = byId?.get(invocationId);
    if (caller === undefined) return undefined;
    byId!.delete(invocationId);
    if (byId!.size === 0) this.byConnection.delete(connectionId);
    return caller;
  }

  /** Removes every invocation waiting on a connection (it ended) and returns them. */
  takeConnection(connectionId: string): Map<string, string> {
    const byId = this.byConnection.get(connectionId) ?? new Map<string, string>();
    this.byConnection.delete(connectionId);
    return byId;
  }
}
