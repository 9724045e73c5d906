import type { HubMessage } from './hub-messages.js';

/** How a transport must carry a protocol's bytes: as text (UTF-8) or as binary. */
export type TransferFormat = 'Text' | 'Binary';

/** Options for {@link HubProtocol.parseMessages}. */
export interface ParseOptions {
  /**
   * The largest message, including its framing (the 0x1E separator or the length prefix), that may
   * be parsed. A complete message above it, or buffered bytes above it with no message boundary,
   * raise `SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE`. Default: no limit.
   */
  maxMessageSize?: number;
  /**
   * The caller guarantees that `input` is valid UTF-8 (text WebSocket messages, which the
   * WebSocket layer has validated): a text protocol may skip its own check. Binary protocols
   * ignore it. Default: false.
   */
  utf8Validated?: boolean;
  /**
   * Parse at most this many whole messages (messages of unknown type count too) and leave the rest
   * unconsumed, so that a caller can work through a large buffer a slice at a time. Default: no
   * limit.
   */
  maxMessages?: number;
}

/** What {@link HubProtocol.parseMessages} found in a buffer. */
export interface ParseResult {
  /** The whole messages, in order. Messages of unknown type are left out (forward compatibility). */
  messages: HubMessage[];
  /** How many bytes of the input the messages used; the rest is an incomplete message to keep. */
  consumed: number;
}

/**
 * A hub protocol codec: pure, no I/O, no timers (docs/protocol.md#message-types).
 *
 * @example
 * ```ts
 * const { messages, consumed } = protocol.parseMessages(buffer, { maxMessageSize: 32768 });
 * buffer = buffer.subarray(consumed);
 * const bytes = protocol.writeMessage({ type: MessageType.Ping });
 * ```
 */
export interface HubProtocol {
  /** The name a client asks for in the handshake (`json`, `messagepack`), lower case. */
  readonly name: string;
  /** The highest protocol version this codec speaks. */
  readonly version: number;
  /** How a transport must carry this protocol's messages. */
  readonly transferFormat: TransferFormat;
  /**
   * Parses every whole message in `input`. Throws a `ProtocolError` on malformed input; the caller
   * then closes the connection with the error's message (docs/protocol.md#protocol-errors).
   */
  parseMessages(input: Uint8Array, options?: ParseOptions): ParseResult;
  /** Serializes one message with its framing (the 0x1E separator, or the varint length prefix). */
  writeMessage(message: HubMessage): Buffer;
}
