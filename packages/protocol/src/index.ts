/**
 * `@switchboard/protocol`: the SignalR hub protocol as pure codecs, with no I/O and no timers.
 *
 * - Message model: {@link HubMessage} and {@link MessageType} (docs/protocol.md#message-types).
 * - Codecs: {@link jsonHubProtocol} and {@link messagePackHubProtocol}, both {@link HubProtocol}s.
 * - Handshake: {@link parseHandshakeRequest} and {@link writeHandshakeResponse} (docs/protocol.md#handshake).
 * - Framing helpers: the 0x1E text framing and the varint binary framing (docs/protocol.md#text-framing,
 * docs/protocol.md#binary-framing).
 * - Errors: {@link ProtocolError} with the stable codes of {@link protocolErrors}.
 *
 * @example
 * ```ts
 * import { jsonHubProtocol, MessageType, parseHandshakeRequest } from '@switchboard/protocol';
 *
 * const handshake = parseHandshakeRequest(received, 32768);
 * if (handshake) {
 *   const { messages, consumed } = jsonHubProtocol.parseMessages(received.subarray(handshake.consumed));
 * }
 * const bytes = jsonHubProtocol.writeMessage({ type: MessageType.Ping });
 * ```
 * @module
 */

export {
  type BinaryMessages,
  type LengthPrefix,
  lengthPrefixSize,
  MAX_BINARY_PAYLOAD_LENGTH,
  MAX_LENGTH_PREFIX_SIZE,
  parseBinaryMessages,
  readLengthPrefix,
  writeBinaryMessage,
  writeLengthPrefix,
} from './binary-message-format.js';
export {
  type ErrorCatalogue,
  type ErrorCatalogueEntry,
  messageTooLargeError,
  ProtocolError,
  type ProtocolErrorCode,
  protocolErrors,
} from './errors.js';
export {
  type HandshakeRequest,
  type HandshakeResponse,
  type ParsedHandshake,
  type ParsedHandshakeResponse,
  parseHandshakeRequest,
  parseHandshakeResponse,
  writeHandshakeRequest,
  writeHandshakeResponse,
} from './handshake-protocol.js';
export {
  type AckMessage,
  type CancelInvocationMessage,
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  type MessageHeaders,
  MessageType,
  type MessageTypeValue,
  PING_MESSAGE,
  type PingMessage,
  type SequenceMessage,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from './hub-messages.js';
export type { HubProtocol, ParseOptions, ParseResult, TransferFormat } from './hub-protocol.js';
export { JsonHubProtocol, jsonHubProtocol } from './json-hub-protocol.js';
export { MessagePackHubProtocol, messagePackHubProtocol } from './message-pack-hub-protocol.js';
export {
  findRecordSeparator,
  parseTextMessages,
  RECORD_SEPARATOR,
  RECORD_SEPARATOR_CHAR,
  type TextMessages,
  writeTextMessage,
} from './text-message-format.js';
