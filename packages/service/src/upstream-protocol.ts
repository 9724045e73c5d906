/**
 * The hub protocols of the service: JSON and MessagePack as the server speaks them, except that
 * every client Invocation (without upload streams) is handed to the one hub method that forwards
 * it upstream, {@link UPSTREAM_METHOD}, with the original target and the exact bytes the client
 * sent for it (its framing included), so that the upstream receives the client's own message as
 * the reference describes (docs: packages/service/README.md, "Upstream").
 * @module
 */
import {
  type HubMessage,
  type HubProtocol,
  jsonHubProtocol,
  MessageType,
  messagePackHubProtocol,
  type ParseOptions,
  type ParseResult,
} from '@switchboard/protocol';

/**
 * The hub method every client invocation reaches. Clients cannot call it by name: their
 * invocation of `switchboardUpstream` is forwarded upstream like any other.
 */
export const UPSTREAM_METHOD = 'switchboardUpstream';

/** The text the dispatcher puts before a HubException's message in a Completion of that method. */
const WRAPPED_ERROR = new RegExp(
  `^An unexpected error occurred invoking '${UPSTREAM_METHOD}' on the server\\. HubException: `,
);

/**
 * A protocol that wraps `inner`: parses message by message to keep each Invocation's bytes, and
 * writes the upstream's Completion errors without the dispatcher's wrapping text, so the client
 * sees the upstream's own error.
 */
export class UpstreamHubProtocol implements HubProtocol {
  readonly name: string;
  readonly version: number;
  readonly transferFormat: HubProtocol['transferFormat'];

  constructor(readonly inner: HubProtocol) {
    this.name = inner.name;
    this.version = inner.version;
    this.transferFormat = inner.transferFormat;
  }

  parseMessages(input: Uint8Array, options?: ParseOptions): ParseResult {
    const messages: HubMessage[] = [];
    const limit = options?.maxMessages ?? Number.POSITIVE_INFINITY;
    let consumed = 0;
    let parsed = 0;
    while (parsed < limit && consumed < input.length) {
      const rest = input.subarray(consumed);
      const one = this.inner.parseMessages(rest, { ...options, maxMessages: 1 });
      if (one.consumed === 0) break;
      parsed++;
      const message = one.messages[0];
      if (message !== undefined) messages.push(this.redirect(message, rest.subarray(0, one.consumed)));
      consumed += one.consumed;
    }
    return { messages, consumed };
  }

  writeMessage(message: HubMessage): Buffer {
    if (
      message.type === MessageType.Completion &&
      message.error !== undefined &&
      WRAPPED_ERROR.test(message.error)
    ) {
      return this.inner.writeMessage({ ...message, error: message.error.replace(WRAPPED_ERROR, '') });
    }
    return this.inner.writeMessage(message);
  }

  private redirect(message: HubMessage, bytes: Uint8Array): HubMessage {
    if (message.type !== MessageType.Invocation) return message;
    // Upload streams stay with the hub, which has no such method: the client gets "Method does not exist".
    if (message.streamIds !== undefined && message.streamIds.length > 0) return message;
    return {
      ...message,
      target: UPSTREAM_METHOD,
      arguments: [message.target, Buffer.from(bytes)],
    };
  }
}

/** The service's JSON protocol (one instance: serialized bytes are cached per protocol object). */
export const serviceJsonProtocol = new UpstreamHubProtocol(jsonHubProtocol);
/** The service's MessagePack protocol. */
export const serviceMessagePackProtocol = new UpstreamHubProtocol(messagePackHubProtocol);
/** Both, for the hub server and the backplane (which must list the same protocol objects). */
export const serviceProtocols: readonly HubProtocol[] = [serviceJsonProtocol, serviceMessagePackProtocol];
