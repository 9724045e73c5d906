import {
  type CompletionMessage,
  type InvocationMessage,
  MessageType,
  type StreamInvocationMessage,
} from '@switchboard/protocol';
import { buildErrorMessage, errorMessage, HubException, type ServerErrorCode } from '../errors.js';
import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
import type { Logger } from '../logger.js';
import type { HubMetrics } from '../metrics.js';
import type { ResolvedHubOptions } from '../options.js';
import type { TimeProvider } from '../time-provider.js';
import { type ArgumentCheck, validateArgument } from './argument-schema.js';
import { authorize } from './authorization.js';
import { DefaultGroupManager, DefaultHubCallerClients, type GroupManager } from './client-proxy.js';
import type { Hub, HubClass } from './hub.js';
import type { HubCallerContext } from './hub-caller-context.js';
import type { HubDescriptor, HubMethodDescriptor } from './hub-descriptor.js';
import type { HubInvocationContext, HubLifetimeContext } from './hub-filter.js';

/** Everything a {@link HubDispatcher} needs from the mapped hub. */
export interface HubDispatcherOptions {
  readonly hubPath: string;
  readonly hubClass: HubClass;
  readonly descriptor: HubDescriptor;
  readonly manager: HubLifetimeManager;
  readonly options: ResolvedHubOptions;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly time: TimeProvider;
}

/** A failure found before the method runs: the Completion text and the catalogue code. */
class InvocationRejected extends Error {
  constructor(
    readonly code: ServerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Runs hub methods and the connection events of one mapped hub (ASP.NET's DefaultHubDispatcher):
 * finds the method case-insensitively, checks the argument count, authorization and schemas, runs
 * the filters around it and turns the outcome into a Completion with the reference's texts.
 */
export class HubDispatcher {
  private readonly groupManager: GroupManager;
  private readonly invokeChain: (invocation: HubInvocationContext) => Promise<unknown>;
  private readonly connectedChain: (context: HubLifetimeContext) => Promise<void>;
  private readonly disconnectedChain: (
    context: HubLifetimeContext,
    error: Error | undefined,
  ) => Promise<void>;

  constructor(private readonly config: HubDispatcherOptions) {
    this.groupManager = new DefaultGroupManager(config.manager);
    const filters = config.options.filters;
    let invoke = async (invocation: HubInvocationContext): Promise<unknown> => {
      const method = config.descriptor.find(invocation.methodName)!;
      return method.invoke.apply(invocation.hub, invocation.arguments);
    };
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
        const next = invoke;
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

  /** A hub instance bound to a connection. */
  createHub(connection: HubCallerContext): Hub<object> {
    const hub = new this.config.hubClass();
    hub.context = connection;
    hub.clients = new DefaultHubCallerClients(this.config.manager, connection.connectionId);
    hub.groups = this.groupManager;
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
   * non-blocking one (whose errors are logged, never sent: signalr-protocol.md 13.2).
   */
  async invoke(
    connection: HubCallerContext,
    message: InvocationMessage,
  ): Promise<CompletionMessage | undefined> {
    const { invocationId, target } = message;
    const started = this.config.time.now();
    let ok = false;
    try {
      const method = this.config.descriptor.find(target);
      const args = await this.bind(connection, message, method);
      const hub = this.createHub(connection);
      let result: unknown;
      try {
        result = await this.invokeChain({
          hubPath: this.config.hubPath,
          hub,
          context: connection,
          methodName: method!.name,
          arguments: args,
        });
      } catch (error) {
        this.logFailure('invocation.failed', connection, target, error);
        return this.completion(
          invocationId,
          buildErrorMessage(
            `An unexpected error occurred invoking '${target}' on the server.`,
            error,
            this.config.options.enableDetailedErrors,
          ),
          error instanceof HubException ? 'SB_ERR_HUB_EXCEPTION' : 'SB_ERR_HUB_METHOD_FAILED',
        );
      }
      ok = true;
      if (invocationId === undefined) return undefined;
      return result === undefined
        ? { type: MessageType.Completion, invocationId, hasResult: false }
        : { type: MessageType.Completion, invocationId, hasResult: true, result };
    } catch (error) {
      if (!(error instanceof InvocationRejected)) {
        // Hub code that failed outside the method itself (the hub's constructor, an authorization
        // policy): the caller still gets its one Completion, as ASP.NET's dispatcher does.
        this.logFailure('invocation.failed', connection, target, error);
        return this.completion(
          invocationId,
          buildErrorMessage(
            `An unexpected error occurred invoking '${target}' on the server.`,
            error,
            this.config.options.enableDetailedErrors,
          ),
          error instanceof HubException ? 'SB_ERR_HUB_EXCEPTION' : 'SB_ERR_HUB_METHOD_FAILED',
        );
      }
      this.config.logger.debug('invocation.rejected', {
        hub: this.config.hubPath,
        connectionId: connection.connectionId,
        target,
        code: error.code,
      });
      return this.completion(invocationId, error.message, error.code);
    } finally {
      this.config.metrics.invocationCompleted(
        this.config.hubPath,
        target,
        ok,
        this.config.time.now() - started,
      );
    }
  }

  /**
   * Answers a StreamInvocation. Streaming methods arrive with the transport matrix; until then every
   * method of a hub is non-streaming and gets the reference's mismatch error.
   */
  async invokeStream(
    connection: HubCallerContext,
    message: StreamInvocationMessage,
  ): Promise<CompletionMessage> {
    const method = this.config.descriptor.find(message.target);
    const error = method
      ? `The client attempted to invoke the non-streaming '${message.target}' method with a streaming invocation.`
      : `Failed to invoke '${message.target}' due to an error on the server. HubException: Method does not exist.`;
    this.config.logger.debug('invocation.rejected', {
      hub: this.config.hubPath,
      connectionId: connection.connectionId,
      target: message.target,
    });
    return { type: MessageType.Completion, invocationId: message.invocationId, hasResult: false, error };
  }

  /** Checks a call before it runs and returns its arguments, or throws {@link InvocationRejected}. */
  private async bind(
    connection: HubCallerContext,
    message: InvocationMessage,
    method: HubMethodDescriptor | undefined,
  ): Promise<unknown[]> {
    const target = message.target;
    const failed = `Failed to invoke '${target}' due to an error on the server.`;
    if (!method) {
      throw new InvocationRejected('SB_ERR_UNKNOWN_METHOD', `${failed} HubException: Method does not exist.`);
    }
    const streams = message.streamIds?.length ?? 0;
    if (streams > 0) {
      throw new InvocationRejected(
        'SB_ERR_INVALID_ARGUMENT',
        `An unexpected error occurred invoking '${target}' on the server. HubException: Client sent ${streams} stream(s), Hub method expects 0.`,
      );
    }
    const args = message.arguments;
    if (args.length !== method.parameterCount) {
      const detail = ` InvalidDataException: Invocation provides ${args.length} argument(s) but target expects ${method.parameterCount}.`;
      throw new InvocationRejected(
        'SB_ERR_ARGUMENT_COUNT',
        this.config.options.enableDetailedErrors ? failed + detail : failed,
      );
    }
    if (method.authorize !== undefined && (await authorize(method.authorize, connection.user)) !== 'ok') {
      throw new InvocationRejected(
        'SB_ERR_FORBIDDEN',
        `Failed to invoke '${target}' because user is unauthorized`,
      );
    }
    if (!method.parameters) return args;
    const bound = new Array<unknown>(args.length);
    for (let i = 0; i < args.length; i++) {
      let check: ArgumentCheck;
      try {
        check = await validateArgument(method.parameters[i]!, args[i]);
      } catch (error) {
        // A schema that throws is a binding failure (a HubException's message is shown).
        throw new InvocationRejected(
          'SB_ERR_INVALID_ARGUMENT',
          buildErrorMessage(failed, error, this.config.options.enableDetailedErrors),
        );
      }
      if (!check.ok) {
        throw new InvocationRejected(
          'SB_ERR_INVALID_ARGUMENT',
          `${failed} HubException: Invalid argument ${i + 1}: ${check.error}`,
        );
      }
      bound[i] = check.value;
    }
    return bound;
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
