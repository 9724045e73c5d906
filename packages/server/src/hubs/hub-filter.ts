import type { Hub } from './hub.js';
import type { HubCallerContext } from './hub-caller-context.js';

/** One invocation, as a {@link HubFilter} sees it. */
export interface HubInvocationContext {
  /** The hub's path, as mapped. */
  readonly hubPath: string;
  /** The hub instance that will run the method. */
  readonly hub: Hub<object>;
  /** The caller. */
  readonly context: HubCallerContext;
  /** The method's declared name (its case in the class, not the client's). */
  readonly methodName: string;
  /** The arguments, after validation. A filter may replace them before calling `next`. */
  arguments: unknown[];
}

/** A connection's start or end, as a {@link HubFilter} sees it. */
export interface HubLifetimeContext {
  /** The hub's path, as mapped. */
  readonly hubPath: string;
  /** The hub instance that runs onConnected/onDisconnected. */
  readonly hub: Hub<object>;
  /** The connection. */
  readonly context: HubCallerContext;
}

/**
 * Middleware around hub methods and connection events (ASP.NET's IHubFilter). Filters run in the
 * order given, server-wide ones first, each deciding whether and how to call `next`. A filter may
 * throw (a {@link HubException} reaches the caller), change the arguments, or time the call.
 *
 * @example
 * ```ts
 * const timing: HubFilter = {
 *   async invokeMethod(invocation, next) {
 *     const started = performance.now();
 *     try { return await next(invocation); }
 *     finally { log(invocation.methodName, performance.now() - started); }
 *   },
 * };
 * ```
 */
export interface HubFilter {
  /** Wraps each hub method invocation. */
  invokeMethod?(
    invocation: HubInvocationContext,
    next: (invocation: HubInvocationContext) => Promise<unknown>,
  ): Promise<unknown>;
  /** Wraps the hub's onConnected. */
  onConnected?(
    context: HubLifetimeContext,
    next: (context: HubLifetimeContext) => Promise<void>,
  ): Promise<void>;
  /** Wraps the hub's onDisconnected. */
  onDisconnected?(
    context: HubLifetimeContext,
    error: Error | undefined,
    next: (context: HubLifetimeContext, error: Error | undefined) => Promise<void>,
  ): Promise<void>;
}
