/**
 * What a node waits for from other nodes: client results (as the server's ClientResultTracker,
 * which the server package does not export) and acknowledgements of remote group changes.
 * @module
 */
import type { CompletionMessage } from '@switchboard/protocol';
import { type ClientInvocationOptions, HubException, SwitchboardError } from '@switchboard/server';
import { BackplaneError } from './errors.js';

interface Pending {
  readonly connectionId: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  dispose(): void;
}

/**
 * Pending client results of this node's callers, by invocation id (unique across the cluster:
 * the node id is part of it). Every entry settles exactly once.
 */
export class PendingClientResults {
  private readonly pending = new Map<string, Pending>();

  /** How many results are pending. */
  get size(): number {
    return this.pending.size;
  }

  /** Registers a pending result; rejects at once when the signal has already aborted. */
  add(connectionId: string, invocationId: string, options: ClientInvocationOptions = {}): Promise<unknown> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<unknown>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.settle(invocationId)?.reject(signal!.reason);
      this.pending.set(invocationId, {
        connectionId,
        resolve,
        reject,
        dispose: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      });
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.settle(invocationId)?.reject(
            new SwitchboardError(
              'SB_ERR_CLIENT_RESULT_TIMEOUT',
              `Timed out waiting for a result from connection '${connectionId}'.`,
            ),
          );
        }, timeoutMs);
        // Not unref'd: a caller waits for it (as the server's ClientResultTracker).
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Whether an invocation id is pending here. */
  has(invocationId: string): boolean {
    return this.pending.has(invocationId);
  }

  /** Settles with a Completion: its result, or a HubException with the client's text. */
  complete(connectionId: string, completion: CompletionMessage): boolean {
    const entry = this.pending.get(completion.invocationId);
    if (!entry || entry.connectionId !== connectionId) return false;
    this.settle(completion.invocationId);
    if (completion.error !== undefined) entry.reject(new HubException(completion.error));
    else entry.resolve(completion.hasResult ? completion.result : null);
    return true;
  }

  /** Rejects one pending result. */
  fail(invocationId: string, error: unknown): boolean {
    const entry = this.settle(invocationId);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** Rejects every result pending on a connection that ended. */
  failConnection(connectionId: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.connectionId === connectionId) this.fail(id, disconnected(connectionId));
    }
  }

  /** Rejects everything (the manager closes). */
  failAll(error: unknown): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error);
  }

  private settle(invocationId: string): Pending | undefined {
    const entry = this.pending.get(invocationId);
    if (!entry) return undefined;
    this.pending.delete(invocationId);
    entry.dispose();
    return entry;
  }
}

/** `SB_ERR_CLIENT_RESULT_FAILED` `Connection '<id>' disconnected.` */
export function disconnected(connectionId: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_CLIENT_RESULT_FAILED', `Connection '${connectionId}' disconnected.`);
}

/** `SB_ERR_CLIENT_RESULT_FAILED` `Connection '<id>' does not exist.` */
export function doesNotExist(connectionId: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_CLIENT_RESULT_FAILED', `Connection '${connectionId}' does not exist.`);
}

/** Acknowledgements a node waits for, by request number, each with a timeout. */
export class PendingAcks {
  private readonly pending = new Map<
    number,
    { resolve(): void; reject(e: unknown): void; timer: NodeJS.Timeout }
  >();

  /** Waits for request `q`'s acknowledgement; rejects with SB_ERR_BACKPLANE_ACK_TIMEOUT after timeoutMs. */
  wait(q: number, connectionId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(q);
        reject(
          new BackplaneError(
            'SB_ERR_BACKPLANE_ACK_TIMEOUT',
            `Timed out waiting for node acknowledgement of the group change of connection '${connectionId}'.`,
          ),
        );
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
