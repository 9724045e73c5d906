import { type Context, context, type Span } from '@opentelemetry/api';
import {
  type CompletionMessage,
  type InvocationMessage,
  MessageType,
  type StreamInvocationMessage,
} from '@switchboard/protocol';
import {
  buildErrorMessage,
  errorMessage,
  HubException,
  type ServerErrorCode,
  SwitchboardError,
} from '../errors.js';
import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
import type { Logger } from '../logger.js';
import { type HubMetrics, noopMetrics, UNKNOWN_METHOD_LABEL } from '../metrics.js';
import type { ResolvedHubOptions } from '../options.js';
import type { HubPresence } from '../presence/hub-presence.js';
import { endSpan, startInvocationSpan, tracingEnabled } from '../telemetry/tracing.js';
import type { TimeProvider } from '../time-provider.js';
import { bindArguments, InvocationRejected } from './argument-binding.js';
import {
  DefaultGroupManager,
  DefaultHubCallerClients,
  type GroupManager,
  type InvocationSlot,
} from './client-proxy.js';
import type { Hub, HubActivator, HubClass } from './hub.js';
import type { HubCallerContext } from './hub-caller-context.js';
import { createHubConnections, type HubConnections } from './hub-context.js';
import type { HubDescriptor, HubMethodDescriptor } from './hub-descriptor.js';
import type { HubInvocationContext, HubLifetimeContext } from './hub-filter.js';
import { enumerate, isAsyncIterable } from './stream-enumeration.js';
import type { UploadStream } from './upload-stream.js';

/** How a call went: the method's value, or the Completion of a call that was refused or threw. */
type Outcome =
  | { readonly started: true; readonly value: unknown }
  | {
      readonly started: false;
      readonly completion: CompletionMessage | undefined;
      /** The catalogue code of the refusal or failure (the span's `error.type`). */
      readonly code: ServerErrorCode;
    };

/** True for a promise or any other thenable, which `await` would adopt. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Everything a {@link HubDispatcher} needs from the mapped hub. */
export interface HubDispatcherOptions {
  readonly hubPath: string;
  readonly hubClass: HubClass;
  /** Creates the hub instances when the hub was mapped with one; else `new hubClass()`. */
  readonly activator?: HubActivator;
  readonly descriptor: HubDescriptor;
  readonly manager: HubLifetimeManager;
  readonly presence: HubPresence;
  readonly options: ResolvedHubOptions;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly time: TimeProvider;
}

/** What the connection gives one invocation besides the message. */
export interface InvocationScope {
  /** The upload streams, one per `streamIds` entry, in order (already receiving items). */
  readonly uploads?: readonly UploadStream[];
  /** The hub's `invocationSignal`; the connection's signal when absent. */
  readonly signal?: AbortSignal;
  /** The invocation's parallel-invocation slot, given back while the method awaits client results. */
  readonly slot?: InvocationSlot;
}

/** What the connection gives a streaming invocation. */
export interface StreamInvocationScope extends InvocationScope {
  /** Aborted when the client cancels the stream or the connection ends. */
  readonly signal: AbortSignal;
  /**
   * Writes one StreamItem. Resolves once the connection can take more (back-pressure); throws the
   * protocol's error when the item cannot be serialized.
   */
  writeItem(item: unknown): Promise<void>;
}

/**
 * Runs hub methods and the connection events of one mapped hub (ASP.NET's DefaultHubDispatcher):
 * finds the method case-insensitively, checks the argument count, authorization and schemas, runs
 * the filters around it and turns the outcome into a Completion with the reference's texts.
 */
export class HubDispatcher {
  private readonly groupManager: GroupManager;
  /** The filters around a method call; undefined without any (the method is called directly). */
  private readonly invokeChain: ((invocation: HubInvocationContext) => Promise<unknown>) | undefined;
  private readonly connectedChain: (context: HubLifetimeContext) => Promise<void>;
  private readonly disconnectedChain: (
    context: HubLifetimeContext,
    error: Error | undefined,
  ) => Promise<void>;

  private readonly connections: HubConnections;
  /** False with the no-op metrics: invocations are not timed then. */
  private readonly timed: boolean;

  constructor(private readonly config: HubDispatcherOptions) {
    this.connections = createHubConnections(config.manager);
    this.timed = config.metrics !== noopMetrics;
    this.groupManager = new DefaultGroupManager(config.manager);
    const filters = config.options.filters;
    // Without filters a method is called directly (see run()); with some, the innermost `next`
    // is async, as filters expect a promise from it.
    let invoke: ((invocation: HubInvocationContext) => Promise<unknown>) | undefined;
    if (filters.some((filter) => filter.invokeMethod)) {
      invoke = async (invocation: HubInvocationContext): Promise<unknown> => {
        const method = config.descriptor.find(invocation.methodName)!;
        return method.invoke.apply(invocation.hub, invocation.arguments);
      };
    }
    let connected = async (context: HubLifetimeContext): Promise<void> => {
      await context.hub.onConnected();
    };
    let disconnected = async (context: HubLifetimeContext, error: Error | undefined): Promise<void> => {
      await context.hub.onDisconnected(error);
    };
    // Wrap from the last filter inwards so that the first filter runs first.
    for (let i = filters.length - 1; i >= 0; i--) {
      const filter = filters[i]!;
      if (filter.invokeMethod) {
        const next = invoke!;
        invoke = (invocation) => filter.invokeMethod!(invocation, next);
      }
      if (filter.onConnected) {
        const next = connected;
        connected = (context) => filter.onConnected!(context, next);
      }
      if (filter.onDisconnected) {
        const next = disconnected;
        disconnected = (context, error) => filter.onDisconnected!(context, error, next);
      }
    }
    this.invokeChain = invoke;
    this.connectedChain = connected;
    this.disconnectedChain = disconnected;
  }

  /** The mapped path of the hub. */
  get hubPath(): string {
    return this.config.hubPath;
  }

  /** A new instance of the hub: from the activator when there is one, checked. */
  private instantiate(): Hub<object> {
    const { activator, hubClass, hubPath } = this.config;
    if (activator === undefined) return new hubClass();
    const hub = activator();
    if (!(hub instanceof hubClass)) {
      throw new SwitchboardError(
        'SB_ERR_HUB_CONFIGURATION',
        `The activator of the hub at '${hubPath}' returned something that is not a ${hubClass.name}.`,
      );
    }
    return hub;
  }

  /** A hub instance bound to a connection (and to one invocation's signal and slot). */
  createHub(connection: HubCallerContext, scope: InvocationScope = {}): Hub<object> {
    const hub = this.instantiate();
    hub.context = connection;
    if (scope.signal !== undefined) hub.invocationSignal = scope.signal;
    hub.clients = new DefaultHubCallerClients(this.config.manager, connection.connectionId, {
      clientResultTimeoutMs: this.config.options.clientResultTimeoutMs,
      slot: scope.slot,
      hubName: this.hubName,
    });
    hub.groups = this.groupManager;
    hub.presence = this.config.presence;
    hub.connections = this.connections;
    return hub;
  }

  /** Runs the hub's onConnected through the filters. Throws what it throws. */
  async onConnected(connection: HubCallerContext): Promise<void> {
    await this.connectedChain({
      hubPath: this.config.hubPath,
      hub: this.createHub(connection),
      context: connection,
    });
  }

  /** Runs the hub's onDisconnected through the filters. Never throws: failures are logged. */
  async onDisconnected(connection: HubCallerContext, error: Error | undefined): Promise<void> {
    try {
      await this.disconnectedChain(
        { hubPath: this.config.hubPath, hub: this.createHub(connection), context: connection },
        error,
      );
    } catch (failure) {
      this.config.logger.error('hub.on_disconnected_failed', {
        hub: this.config.hubPath,
        connectionId: connection.connectionId,
        error: failure as Error,
      });
    }
  }

  /**
   * Runs one Invocation. Returns the Completion to send for a blocking call, undefined for a
   * non-blocking one (whose errors are logged, never sent: docs/protocol.md#non-blocking).
   *
   * Synchronous when the whole call is: no authorization policy or argument schema, no filter, and
   * a method that returns a plain value (or throws). Otherwise a promise. Never throws.
   */
  invoke(
    connection: HubCallerContext,
    message: InvocationMessage,
    scope: InvocationScope = {},
  ): CompletionMessage | undefined | Promise<CompletionMessage | undefined> {
    // Without metrics there is nothing to time.
    const started = this.timed ? this.config.time.now() : 0;
    // Without an SDK nothing would record: no span to name or start.
    const traced = tracingEnabled()
      ? startInvocationSpan(
          this.hubName,
          this.config.hubPath,
          this.methodLabel(message.target),
          connection.connectionId,
          message.headers,
        )
      : undefined;
    if (traced !== undefined) return this.invokeTraced(connection, message, scope, started, traced);
    const outcome = this.start(connection, message, false, scope);
    if (outcome instanceof Promise) return outcome.then((done) => this.invoked(message, done, started));
    return this.invoked(message, outcome, started);
  }

  /** {@link invoke} inside the invocation's span (active while the method runs). */
  private invokeTraced(
    connection: HubCallerContext,
    message: InvocationMessage,
    scope: InvocationScope,
    started: number,
    traced: { span: Span; context: Context },
  ): CompletionMessage | undefined | Promise<CompletionMessage | undefined> {
    const finish = (outcome: Outcome) => {
      endSpan(traced.span, outcome.started ? undefined : outcome.code);
      return this.invoked(message, outcome, started);
    };
    const outcome = context.with(traced.context, () => this.start(connection, message, false, scope));
    if (outcome instanceof Promise) return outcome.then(finish);
    return finish(outcome);
  }

  /** The hub's name in spans (`rpc.service`): its class name, or its path for an anonymous class. */
  private get hubName(): string {
    return this.config.hubClass.name || this.config.hubPath;
  }

  /**
   * The metrics label of a client-sent target: the hub's declared name of the method, or
   * {@link UNKNOWN_METHOD_LABEL}, so that labels stay within the hub's own method names.
   */
  private methodLabel(target: string): string {
    return this.config.descriptor.find(target)?.name ?? UNKNOWN_METHOD_LABEL;
  }

  /** The Completion of a finished Invocation, counted in the metrics. */
  private invoked(
    message: InvocationMessage,
    outcome: Outcome,
    started: number,
  ): CompletionMessage | undefined {
    if (this.timed) {
      this.config.metrics.invocationCompleted(
        this.config.hubPath,
        this.methodLabel(message.target),
        outcome.started,
        this.config.time.now() - started,
      );
    }
    if (!outcome.started) return outcome.completion;
    const { invocationId } = message;
    if (invocationId === undefined) return undefined;
    const result = outcome.value;
    return result === undefined
      ? { type: MessageType.Completion, invocationId, hasResult: false }
      : { type: MessageType.Completion, invocationId, hasResult: true, result };
  }

  /**
   * Runs one StreamInvocation to its end (docs/protocol.md#server-streams, docs/protocol.md#stream-cancel):
   * writes each item
   * through `scope.writeItem` and returns the final Completion, without result when the stream
   * ended or was cancelled (`scope.signal`), with the reference's error texts when it failed.
   */
  async invokeStream(
    connection: HubCallerContext,
    message: StreamInvocationMessage,
    scope: StreamInvocationScope,
  ): Promise<CompletionMessage> {
    const traced = startInvocationSpan(
      this.hubName,
      this.config.hubPath,
      this.methodLabel(message.target),
      connection.connectionId,
      message.headers,
    );
    if (traced === undefined) return this.runStream(connection, message, scope);
    const completion = await context.with(traced.context, () => this.runStream(connection, message, scope));
    endSpan(
      traced.span,
      completion.error === undefined
        ? undefined
        : (this.streamErrors.get(completion) ?? 'SB_ERR_STREAM_FAILED'),
      {
        'signalr.stream': true,
        'signalr.stream.cancelled': scope.signal.aborted,
      },
    );
    return completion;
  }

  /** Completions of streams that ended with an error, and their codes (for the span). */
  private readonly streamErrors = new WeakMap<CompletionMessage, ServerErrorCode>();

  private async runStream(
    connection: HubCallerContext,
    message: StreamInvocationMessage,
    scope: StreamInvocationScope,
  ): Promise<CompletionMessage> {
    const { invocationId, target } = message;
    const started = this.config.time.now();
    let ok = false;
    try {
      const outcome = await this.start(connection, message, true, scope);
      if (!outcome.started) {
        this.streamErrors.set(outcome.completion!, outcome.code);
        return outcome.completion!;
      }
      const iterable = outcome.value;
      if (!isAsyncIterable(iterable)) {
        const name = this.config.descriptor.find(target)!.name;
        return this.completion(
          invocationId,
          `The value returned by the streaming method '${name}' is not a ChannelReader<> or IAsyncEnumerable<>.`,
          'SB_ERR_HUB_METHOD_FAILED',
        )!;
      }
      const failure = await enumerate(iterable, scope);
      if (failure !== undefined) {
        this.logFailure('stream.failed', connection, target, failure.error);
        return this.completion(
          invocationId,
          buildErrorMessage(
            'An error occurred on the server while streaming results.',
            failure.error,
            this.config.options.enableDetailedErrors,
          ),
          'SB_ERR_STREAM_FAILED',
        )!;
      }
      ok = true;
      return { type: MessageType.Completion, invocationId, hasResult: false };
    } finally {
      this.config.metrics.invocationCompleted(
        this.config.hubPath,
        this.methodLabel(target),
        ok,
        this.config.time.now() - started,
      );
    }
  }

  /**
   * Binds and runs the method through the filters: its return value, or the Completion of a call
   * that was refused or threw (undefined for a non-blocking one). Synchronous as long as binding
   * and the method are; never throws.
   */
  private start(
    connection: HubCallerContext,
    message: InvocationMessage | StreamInvocationMessage,
    streaming: boolean,
    scope: InvocationScope,
  ): Outcome | Promise<Outcome> {
    let method: HubMethodDescriptor | undefined;
    let bound: unknown[] | Promise<unknown[]>;
    try {
      method = this.config.descriptor.find(message.target);
      bound = bindArguments(
        connection,
        message,
        method,
        streaming,
        scope.uploads ?? [],
        this.config.options.enableDetailedErrors,
      );
    } catch (error) {
      return this.refused(connection, message, error);
    }
    if (bound instanceof Promise) {
      return bound.then(
        (args) => this.run(connection, message, method!, args, scope),
        (error: unknown) => this.refused(connection, message, error),
      );
    }
    return this.run(connection, message, method!, bound, scope);
  }

  /** Creates the hub and calls the method, through the filters when there are any. */
  private run(
    connection: HubCallerContext,
    message: InvocationMessage | StreamInvocationMessage,
    method: HubMethodDescriptor,
    args: unknown[],
    scope: InvocationScope,
  ): Outcome | Promise<Outcome> {
    let value: unknown;
    try {
      const hub = this.createHub(connection, scope);
      const chain = this.invokeChain;
      value =
        chain === undefined
          ? method.invoke.apply(hub, args)
          : chain({
              hubPath: this.config.hubPath,
              hub,
              context: connection,
              methodName: method.name,
              arguments: args,
            });
    } catch (error) {
      // Hub code that failed (the hub's constructor, the method itself): the caller still gets
      // its one Completion, as ASP.NET's dispatcher does.
      return this.failed(connection, message, error);
    }
    if (isThenable(value)) {
      return Promise.resolve(value).then(
        (settled): Outcome => ({ started: true, value: settled }),
        (error: unknown) => this.failed(connection, message, error),
      );
    }
    return { started: true, value };
  }

  /** A call refused before it ran: the binding's own text, else a failure like the method's. */
  private refused(
    connection: HubCallerContext,
    message: InvocationMessage | StreamInvocationMessage,
    error: unknown,
  ): Outcome {
    if (!(error instanceof InvocationRejected)) {
      // Hub code that failed outside the method itself (an authorization policy).
      return this.failed(connection, message, error);
    }
    this.config.logger.debug('invocation.rejected', {
      hub: this.config.hubPath,
      connectionId: connection.connectionId,
      target: message.target,
      code: error.code,
    });
    return {
      started: false,
      completion: this.completion(message.invocationId, error.message, error.code),
      code: error.code,
    };
  }

  /** The Completion of a call that threw: the reference's text, detailed when configured. */
  private failed(
    connection: HubCallerContext,
    message: InvocationMessage | StreamInvocationMessage,
    error: unknown,
  ): Outcome {
    const { invocationId, target } = message;
    this.logFailure('invocation.failed', connection, target, error);
    const code = error instanceof HubException ? 'SB_ERR_HUB_EXCEPTION' : 'SB_ERR_HUB_METHOD_FAILED';
    return {
      started: false,
      completion: this.completion(
        invocationId,
        buildErrorMessage(
          `An unexpected error occurred invoking '${target}' on the server.`,
          error,
          this.config.options.enableDetailedErrors,
        ),
        code,
      ),
      code,
    };
  }

  private completion(
    invocationId: string | undefined,
    error: string,
    code: ServerErrorCode,
  ): CompletionMessage | undefined {
    this.config.metrics.error(this.config.hubPath, code);
    if (invocationId === undefined) return undefined;
    return { type: MessageType.Completion, invocationId, hasResult: false, error };
  }

  private logFailure(event: string, connection: HubCallerContext, target: string, error: unknown): void {
    const fields = {
      hub: this.config.hubPath,
      connectionId: connection.connectionId,
      target,
      error: errorMessage(error),
    };
    if (error instanceof HubException) this.config.logger.debug(event, fields);
    else
      this.config.logger.warn(event, { ...fields, stack: error instanceof Error ? error.stack : undefined });
  }
}
