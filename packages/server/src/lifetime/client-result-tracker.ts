/**
 * Pending client results (ASP.NET's ClientResultsManager): the server invoked a client method with
 * an invocation id and waits for the connection's Completion. Lifetime managers keep one tracker;
 * a backplane keeps it on the node that made the call.
 * @module
 */
import type { CompletionMessage } from '@switchboard/protocol';
import { HubException, SwitchboardError } from '../errors.js';
import type { ClientInvocationOptions } from './hub-lifetime-manager.js';

/** One pending result; it clears its own timer and abort listener when settled. */
class PendingResult {
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}

  /** Clears the timer and the abort listener. */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/**
 * The client results a node waits for, by connection id, then invocation id. Every pending result
 * settles exactly once: with the connection's Completion, a failure ({@link fail}, a connection
 * that ended, the manager closing), its timeout (`SB_ERR_CLIENT_RESULT_TIMEOUT`) or its abort
 * signal (the signal's reason).
 *
 * Invocation ids need be unique per connection only (the single-node manager numbers them `s1`,
 * `s2`, … per connection); a backplane uses ids unique across the cluster, and always names the
 * connection, so that a Completion from any other connection never settles a result.
 *
 * @example
 * ```ts
 * const results = new ClientResultTracker();
 * const answer = results.add(connectionId, invocationId, { timeoutMs: 30_000 });
 * // …write the Invocation to the connection, then, when its Completion arrives:
 * results.complete(connectionId, completion);
 * ```
 */
export class ClientResultTracker {
  private readonly pending = new Map<string, Map<string, PendingResult>>();

  /**
   * `SB_ERR_CLIENT_RESULT_FAILED` `Connection '<id>' disconnected.`: the error a result fails with
   * when its connection ends before answering.
   */
  static disconnected(connectionId: string): SwitchboardError {
    return new SwitchboardError('SB_ERR_CLIENT_RESULT_FAILED', `Connection '${connectionId}' disconnected.`);
  }

  /**
   * `SB_ERR_CLIENT_RESULT_FAILED` `Connection '<id>' does not exist.`: the error a result fails
   * with when no node holds the connection.
   */
  static doesNotExist(connectionId: string): SwitchboardError {
    return new SwitchboardError(
      'SB_ERR_CLIENT_RESULT_FAILED',
      `Connection '${connectionId}' does not exist.`,
    );
  }

  /** How many results are pending, over every connection. */
  get size(): number {
    let n = 0;
    for (const byId of this.pending.values()) n += byId.size;
    return n;
  }

  /**
   * Registers a pending result and returns its promise. Rejects at once when the signal has already
   * aborted. The caller sends the Invocation after this (so that even an immediate answer finds it).
   * An id already pending on the connection rejects the new registration (the first one stays).
   */
  add(connectionId: string, invocationId: string, options: ClientInvocationOptions = {}): Promise<unknown> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let byId = this.pending.get(connectionId);
    if (byId?.has(invocationId)) {
      return Promise.reject(
        new SwitchboardError(
          'SB_ERR_CLIENT_RESULT_FAILED',
          `Invocation '${invocationId}' is already pending on connection '${connectionId}'.`,
        ),
      );
    }
    if (!byId) {
      byId = new Map();
      this.pending.set(connectionId, byId);
    }
    const ids = byId;
    return new Promise<unknown>((resolve, reject) => {
      const entry = new PendingResult(resolve, reject, signal);
      ids.set(invocationId, entry);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(() => {
          this.settle(connectionId, invocationId)?.reject(
            new SwitchboardError(
              'SB_ERR_CLIENT_RESULT_TIMEOUT',
              `Timed out waiting for a result from connection '${connectionId}'.`,
            ),
          );
        }, timeoutMs);
        // Not unref'd: someone awaits this answer, and the timeout is what settles it; an unref'd
        // timer would let a process with nothing else to do exit with the caller still waiting.
      }
      if (signal) {
        entry.onAbort = () => this.settle(connectionId, invocationId)?.reject(signal.reason);
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
    });
  }

  /** Whether a result for this invocation id is pending on the connection. */
  has(connectionId: string, invocationId: string): boolean {
    return this.pending.get(connectionId)?.has(invocationId) ?? false;
  }

  /**
   * Settles the pending result a Completion answers: its result, or a HubException with the
   * client's error text. Returns false when the id is not pending on that connection (a Completion
   * from another connection never settles it).
   */
  complete(connectionId: string, completion: CompletionMessage): boolean {
    const entry = this.settle(connectionId, completion.invocationId);
    if (!entry) return false;
    if (completion.error !== undefined) entry.reject(new HubException(completion.error));
    else entry.resolve(completion.hasResult ? completion.result : null);
    return true;
  }

  /**
   * Rejects one pending result by its invocation id (a failed send, a node reporting the
   * connection gone). Returns false when it is not pending.
   */
  fail(connectionId: string, invocationId: string, error: unknown): boolean {
    const entry = this.settle(connectionId, invocationId);
    entry?.reject(error);
    return entry !== undefined;
  }

  /**
   * Rejects every result pending on a connection that ended, by default with
   * {@link ClientResultTracker.disconnected}.
   */
  failConnection(connectionId: string, error?: unknown): void {
    const byId = this.pending.get(connectionId);
    if (!byId) return;
    this.pending.delete(connectionId);
    error ??= ClientResultTracker.disconnected(connectionId);
    for (const entry of byId.values()) {
      entry.dispose();
      entry.reject(error);
    }
  }

  /** Rejects every pending result (the lifetime manager closes). */
  failAll(error: unknown): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const byId of all) {
      for (const entry of byId.values()) {
        entry.dispose();
        entry.reject(error);
      }
    }
  }

  /** Removes a pending result and disposes its timer; returns it, or undefined when absent. */
  private settle(connectionId: string, invocationId: string): PendingResult | undefined {
    const byId = this.pending.get(connectionId);
    const entry = byId?.get(invocationId);
    if (!entry) return undefined;
    byId!.delete(invocationId);
    if (byId!.size === 0) this.pending.delete(connectionId);
    entry.dispose();
    return entry;
  }
}
