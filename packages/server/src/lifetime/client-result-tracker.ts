/**
 * Pending client results (ASP.NET's ClientResultsManager): the server invoked a client method with
 * an invocation id and waits for the connection's Completion. Lifetime managers keep one tracker;
 * a backplane keeps it on the node that made the call.
 * @module
 */
import type { CompletionMessage } from '@switchboard/protocol';
import { HubException, SwitchboardError } from '../errors.js';
import type { ClientInvocationOptions } from './hub-lifetime-manager.js';

interface PendingResult {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Clears the timer and the abort listener. */
  dispose(): void;
}

/** The results a node waits for, by connection id, then invocation id. */
export class ClientResultTracker {
  private readonly pending = new Map<string, Map<string, PendingResult>>();

  /** How many results are pending, over every connection. */
  get size(): number {
    let n = 0;
    for (const byId of this.pending.values()) n += byId.size;
    return n;
  }

  /**
   * Registers a pending result and returns its promise. Rejects at once when the signal has already
   * aborted. The caller sends the Invocation after this (so that even an immediate answer finds it).
   */
  add(connectionId: string, invocationId: string, options: ClientInvocationOptions = {}): Promise<unknown> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<unknown>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.settle(connectionId, invocationId)?.reject(signal!.reason);
      const entry: PendingResult = {
        resolve,
        reject,
        dispose: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      let byId = this.pending.get(connectionId);
      if (!byId) {
        byId = new Map();
        this.pending.set(connectionId, byId);
      }
      byId.set(invocationId, entry);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
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
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Settles the pending result a Completion answers: its result, or a HubException with the
   * client's error text. Returns false when the id is not pending.
   */
  complete(connectionId: string, completion: CompletionMessage): boolean {
    const entry = this.settle(connectionId, completion.invocationId);
    if (!entry) return false;
    if (completion.error !== undefined) entry.reject(new HubException(completion.error));
    else entry.resolve(completion.hasResult ? completion.result : null);
    return true;
  }

  /** Rejects one pending result (a failed send). Returns false when it is not pending. */
  fail(connectionId: string, invocationId: string, error: unknown): boolean {
    const entry = this.settle(connectionId, invocationId);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** Rejects every result pending on a connection that ended: `Connection '<id>' disconnected.` */
  failConnection(connectionId: string): void {
    const byId = this.pending.get(connectionId);
    if (!byId) return;
    this.pending.delete(connectionId);
    const error = new SwitchboardError(
      'SB_ERR_CLIENT_RESULT_FAILED',
      `Connection '${connectionId}' disconnected.`,
    );
    for (const entry of byId.values()) {
      entry.dispose();
      entry.reject(error);
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
