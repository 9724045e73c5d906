/**
 * The one hub class every configured hub runs: it has no methods of its own; every client
 * invocation reaches {@link ServiceHub.switchboardUpstream} (see upstream-protocol.ts) and goes
 * to the upstream, and the connection's start and end become the `connections` events (the
 * blocking `connect` event runs in the hub's `onConnecting` hook, {@link connectingHook}). Per
 * connection, the events and invocations reach the upstream in the order the client made them:
 * invocations run one at a time (one invocation slot per client) after the `connected` event.
 * @module
 */
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import {
  type ConnectingHook,
  Hub,
  type HubCallerContext,
  HubException,
  type Logger,
} from '@switchboard/server';
import type { HubConfig } from './config.js';
import type { LocalRegistry } from './registry.js';
import { type UpstreamClient, UpstreamError, type UpstreamRequest } from './upstream.js';
import { serviceJsonProtocol, serviceMessagePackProtocol } from './upstream-protocol.js';

/** What the hub instances of one configured hub share. */
export interface HubRuntime {
  /** The hub's name as configured (sent upstream as `{hub}` and `X-ASRS-Hub`). */
  readonly name: string;
  /** The key the service knows the hub by (its name in lower case). */
  readonly key: string;
  readonly config: HubConfig;
  readonly upstream: UpstreamClient;
  readonly registry: LocalRegistry;
  readonly logger: Logger;
  /** The longest user id (`limits.maxUserIdLength`), for the connect event's answer. */
  readonly maxUserIdLength: number;
  /** The groups the connect event gave each connection, until its registration joins them. */
  readonly connectGroups: Map<string, readonly string[]>;
}

/** The connection's `connected` event, which its invocations wait for (kept in `context.items`). */
const CONNECTED_EVENT = Symbol('switchboard.connected-event');

/** What the blocking connect event's answer may hold. */
interface ConnectAnswer {
  readonly groups?: unknown;
  readonly userId?: unknown;
}

/** The hub class of the service (see the module's description). */
export class ServiceHub extends Hub {
  constructor(private readonly runtime: HubRuntime) {
    super();
  }

  override async onConnected(): Promise<void> {
    const { runtime, context } = this;
    const template = runtime.config.upstream;
    if (template === undefined) return;
    const event = runtime.upstream.sendEvent(
      template,
      request(runtime, context, 'connections', 'connected', '{}'),
    );
    context.items.set(CONNECTED_EVENT, event);
  }

  override async onDisconnected(error?: Error): Promise<void> {
    const { runtime, context } = this;
    const template = runtime.config.upstream;
    if (template === undefined) return;
    const connected = (context.items.get(CONNECTED_EVENT) as Promise<void> | undefined) ?? Promise.resolve();
    const body = JSON.stringify({ Error: error?.message ?? '' });
    // Not awaited: the disconnect does not wait for the upstream (the event retries by itself).
    void connected.then(() =>
      runtime.upstream.sendEvent(template, request(runtime, context, 'connections', 'disconnected', body)),
    );
  }

  /**
   * Every client invocation: POSTs the client's message as it sent it to the `messages/<target>`
   * upstream, and completes the invocation with the Completion the upstream answers (its result or
   * its error); an empty answer completes it without a result.
   */
  async switchboardUpstream(target: string, message: Buffer): Promise<unknown> {
    const { runtime, context } = this;
    const template = runtime.config.upstream;
    if (template === undefined) {
      throw new HubException(`Method '${target}' does not exist: hub '${runtime.name}' has no upstream.`);
    }
    await context.items.get(CONNECTED_EVENT);
    const protocol =
      context.protocol === serviceMessagePackProtocol.name ? serviceMessagePackProtocol : serviceJsonProtocol;
    let body: Buffer;
    try {
      const response = await runtime.upstream.send(
        template,
        request(runtime, context, 'messages', target, message, protocol === serviceJsonProtocol),
        context.connectionAborted,
      );
      body = response.body;
    } catch (error) {
      const reason = error instanceof UpstreamError ? error.message : (error as Error).message;
      runtime.logger.warn('service.upstream_invocation_failed', {
        code: 'SB_ERR_SVC_UPSTREAM_FAILED',
        hub: runtime.name,
        target,
        connectionId: context.connectionId,
        error: reason,
      });
      throw new HubException(`Upstream request failed: ${reason}`);
    }
    if (body.length === 0) return undefined;
    const completion = completionOf(protocol.inner, body, protocol === serviceJsonProtocol);
    if (!completion) {
      throw new HubException(
        `Upstream request failed: the answer is not a ${protocol.name} Completion message`,
      );
    }
    if (completion.error !== undefined) throw new HubException(completion.error);
    return completion.hasResult ? completion.result : undefined;
  }
}

/**
 * The hub's `onConnecting` hook: with `connectEvent`, the blocking `connections/connect` event,
 * run before the connection is registered and answered. The upstream refuses the connection with a
 * 4xx; its answer `{"userId": "…", "groups": ["…"]}` may set the connection's user id and the
 * groups it joins (kept in `runtime.connectGroups` until the registration joins them).
 */
export function connectingHook(runtime: HubRuntime): ConnectingHook | undefined {
  if (!runtime.config.connectEvent) return undefined;
  return async (context) => {
    const answer = await connectEvent(runtime, context);
    if (answer.groups.length > 0) {
      const id = context.connectionId;
      runtime.connectGroups.set(id, answer.groups);
      // A connection that ends before it registers never reaches the registration's cleanup.
      context.connectionAborted.addEventListener('abort', () => runtime.connectGroups.delete(id), {
        once: true,
      });
    }
    return answer.userId === undefined ? undefined : { userIdentifier: answer.userId };
  };
}

/** The blocking connect event: what the upstream decided, or a refusal (a HubException closes the connection). */
async function connectEvent(
  runtime: HubRuntime,
  context: HubCallerContext,
): Promise<{ userId: string | undefined; groups: string[] }> {
  const body = JSON.stringify({
    claims: context.user?.claims ?? {},
    query: Object.fromEntries(new URLSearchParams(clientQuery(context))),
  });
  let answer: ConnectAnswer = {};
  try {
    const response = await runtime.upstream.send(
      runtime.config.upstream!,
      request(runtime, context, 'connections', 'connect', body),
      context.connectionAborted,
    );
    if (response.body.length > 0) answer = JSON.parse(response.body.toString('utf8')) as ConnectAnswer;
    if (answer === null || typeof answer !== 'object')
      throw new Error('the connect answer is not a JSON object');
  } catch (error) {
    const status = error instanceof UpstreamError ? error.status : undefined;
    const refused = status !== undefined && status >= 400 && status < 500;
    runtime.logger.info('service.connect_refused', {
      code: refused ? 'SB_ERR_SVC_CONNECT_REFUSED' : 'SB_ERR_SVC_UPSTREAM_FAILED',
      hub: runtime.name,
      connectionId: context.connectionId,
      error: (error as Error).message,
    });
    if (refused) throw new HubException(`Connection refused by the upstream: ${status}`);
    throw new HubException(`Upstream request failed: ${(error as Error).message}`);
  }
  const groups = Array.isArray(answer.groups)
    ? answer.groups.filter((g): g is string => typeof g === 'string' && g.length > 0)
    : [];
  const { userId } = answer;
  const max = runtime.maxUserIdLength;
  if (
    userId !== undefined &&
    userId !== null &&
    (typeof userId !== 'string' || userId.length === 0 || userId.length > max)
  ) {
    runtime.logger.warn('service.connect_user_invalid', {
      code: 'SB_ERR_SVC_UPSTREAM_FAILED',
      hub: runtime.name,
      connectionId: context.connectionId,
    });
    throw new HubException(
      `Upstream request failed: the connect answer's userId must be a string of 1 to ${max} characters`,
    );
  }
  return { userId: typeof userId === 'string' ? userId : undefined, groups };
}

/** The user id of a connection; a token without one gives an anonymous connection (''). */
function userOf(context: HubCallerContext): string | undefined {
  return context.userIdentifier ? context.userIdentifier : undefined;
}

/** The query the client connected with, without its token and connection token. */
function clientQuery(context: HubCallerContext): string {
  const url = context.request.safeUrl;
  const at = url.indexOf('?');
  if (at < 0) return '';
  const query = new URLSearchParams(url.slice(at + 1));
  for (const key of [...query.keys()]) {
    if (['access_token', 'id', 'negotiateversion'].includes(key.toLowerCase())) query.delete(key);
  }
  return query.toString();
}

function request(
  runtime: HubRuntime,
  context: HubCallerContext,
  category: UpstreamRequest['category'],
  event: string,
  body: string | Buffer,
  json = true,
): UpstreamRequest {
  return {
    hub: runtime.name,
    category,
    event,
    connectionId: context.connectionId,
    userId: userOf(context),
    claims: context.user?.claims,
    clientQuery: clientQuery(context),
    contentType: json ? 'application/json' : 'application/x-msgpack',
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  };
}

/** The first Completion of the upstream's answer (JSON may leave out the final record separator). */
function completionOf(
  protocol: { parseMessages(input: Uint8Array): { messages: { type: number }[] } },
  body: Buffer,
  json: boolean,
): CompletionMessage | undefined {
  const input = json && body[body.length - 1] !== 0x1e ? Buffer.concat([body, Buffer.from([0x1e])]) : body;
  try {
    const found = protocol.parseMessages(input).messages.find((m) => m.type === MessageType.Completion);
    return found as CompletionMessage | undefined;
  } catch {
    return undefined;
  }
}
