/**
 * The JSON hub protocol (docs/protocol.md#json-protocol, docs/protocol.md#message-types; the reference is
 * JsonHubProtocol.cs in dotnet/aspnetcore, whose error texts we reuse word for word).
 * @module
 */

import { ProtocolError } from './errors.js';
import {
  type CancelInvocationMessage,
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  type MessageHeaders,
  MessageType,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from './hub-messages.js';
import type { HubProtocol, ParseOptions, ParseResult, TransferFormat } from './hub-protocol.js';
import {
  type JsonObject,
  parseJsonObject,
  parseJsonText,
  readInt32,
  readInt64,
  readString,
} from './json-reading.js';
import { forEachTextMessage, RECORD_SEPARATOR_CHAR } from './text-message-format.js';

const CODE = 'SB_ERR_PROTOCOL_INVALID_MESSAGE';

function invalid(message: string, exceptionType?: string): ProtocolError {
  return new ProtocolError(CODE, message, exceptionType);
}

function missing(name: string): ProtocolError {
  return invalid(`Missing required property '${name}'.`);
}

/** The properties of one message, type-checked but not yet bound to a message type. */
interface JsonFields {
  type?: number;
  invocationId?: string;
  target?: string;
  error?: string;
  allowReconnect: boolean;
  hasResult: boolean;
  result?: unknown;
  hasItem: boolean;
  item?: unknown;
  arguments?: unknown[];
  streamIds?: string[];
  headers?: MessageHeaders;
  sequenceId?: number;
}

function readStreamIds(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid("Expected 'streamIds' to be of type Array.");
  for (const id of value) {
    if (id === null) throw invalid("Null value for 'streamIds' is not valid.");
    if (typeof id !== 'string') {
      // What .NET's GetString() says when the token is not a string; the reference does not wrap it.
      throw invalid(
        `Cannot get the value of a token type '${tokenTypeOf(id)}' as a string.`,
        'InvalidOperationException',
      );
    }
  }
  return value as string[];
}

function tokenTypeOf(value: unknown): string {
  if (typeof value === 'number') return 'Number';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return Array.isArray(value) ? 'StartArray' : 'StartObject';
}

function readHeaders(value: unknown): MessageHeaders {
  // The reference names the token type here without the "Object" mapping it uses elsewhere.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid("Expected 'headers' to be of type StartObject.");
  }
  const headers = value as JsonObject;
  for (const key of Object.keys(headers)) {
    if (typeof headers[key] !== 'string') throw invalid(`Expected header '${key}' to be of type String.`);
  }
  // JSON.parse made every key an own property (even "__proto__"), so the object is safe to keep.
  return headers as MessageHeaders;
}

/**
 * Type-checks every known property in the order it appears, as the reference's single forward pass
 * does, so the first offending property is the one reported. Unknown properties are skipped
 * (docs/protocol.md#json-reading). Checks apply whatever the message type, as in the reference.
 */
function readFields(object: JsonObject): JsonFields {
  // Every field in the literal: one object shape, no properties added (and no backing store) later.
  const fields: JsonFields = {
    type: undefined,
    invocationId: undefined,
    target: undefined,
    error: undefined,
    allowReconnect: false,
    hasResult: false,
    result: undefined,
    hasItem: false,
    item: undefined,
    arguments: undefined,
    streamIds: undefined,
    headers: undefined,
    sequenceId: undefined,
  };
  for (const key of Object.keys(object)) {
    const value = object[key];
    switch (key) {
      case 'type':
        fields.type = readInt32(value, 'type', CODE);
        // ReadAsInt32 returns null for a JSON null, which the reference then rejects with this text.
        if (fields.type === undefined) throw invalid("Expected 'type' to be of type Number.");
        break;
      case 'invocationId':
        fields.invocationId = readString(value, 'invocationId', CODE);
        break;
      case 'target':
        fields.target = readString(value, 'target', CODE);
        break;
      case 'error':
        fields.error = readString(value, 'error', CODE);
        break;
      case 'allowReconnect':
        if (typeof value !== 'boolean') throw invalid("Expected 'allowReconnect' to be true or false.");
        fields.allowReconnect = value;
        break;
      case 'result':
        fields.hasResult = true;
        fields.result = value;
        break;
      case 'item':
        fields.hasItem = true;
        fields.item = value;
        break;
      case 'arguments':
        if (!Array.isArray(value)) throw invalid("Expected 'arguments' to be of type Array.");
        fields.arguments = value;
        break;
      case 'streamIds':
        fields.streamIds = readStreamIds(value);
        break;
      case 'headers':
        fields.headers = readHeaders(value);
        break;
      case 'sequenceId':
        fields.sequenceId = readInt64(value, 'sequenceId', CODE);
        break;
    }
  }
  return fields;
}

/** Copies the optional parts shared by invocation-like messages; empty ones are left out. */
function withExtras<T extends { headers?: MessageHeaders; streamIds?: string[] }>(
  message: T,
  fields: JsonFields,
  streams: boolean,
): T {
  if (streams && fields.streamIds !== undefined && fields.streamIds.length > 0) {
    message.streamIds = fields.streamIds;
  }
  if (fields.headers !== undefined && Object.keys(fields.headers).length > 0) {
    message.headers = fields.headers;
  }
  return message;
}

/**
 * Builds the message of `fields.type`, with the reference's required-property checks in the
 * reference's order. Returns null for an unknown type: future message types are ignored.
 */
function bindMessage(fields: JsonFields): HubMessage | null {
  const { invocationId } = fields;
  switch (fields.type) {
    case MessageType.Invocation: {
      if (fields.target === undefined || fields.target === '') throw missing('target');
      if (fields.arguments === undefined) throw missing('arguments');
      // An empty id means a non-blocking call, as in the reference (string.IsNullOrEmpty).
      // Each shape as one literal: no property added afterwards on the common path.
      const message: InvocationMessage = invocationId
        ? { type: MessageType.Invocation, invocationId, target: fields.target, arguments: fields.arguments }
        : { type: MessageType.Invocation, target: fields.target, arguments: fields.arguments };
      return withExtras(message, fields, true);
    }
    case MessageType.StreamInvocation:
      if (fields.target === undefined) throw missing('target');
      if (!invocationId) throw missing('invocationId');
      if (fields.arguments === undefined) throw missing('arguments');
      if (fields.target === '') throw missing('target');
      return withExtras<StreamInvocationMessage>(
        {
          type: MessageType.StreamInvocation,
          invocationId,
          target: fields.target,
          arguments: fields.arguments,
        },
        fields,
        true,
      );
    case MessageType.StreamItem:
      if (!invocationId) throw missing('invocationId');
      if (!fields.hasItem) throw missing('item');
      return withExtras<StreamItemMessage>(
        { type: MessageType.StreamItem, invocationId, item: fields.item },
        fields,
        false,
      );
    case MessageType.Completion: {
      if (!invocationId) throw missing('invocationId');
      // Any `error`, even an empty one, excludes a result (the reference tests `error != null`).
      if (fields.error !== undefined && fields.hasResult) {
        throw invalid("The 'error' and 'result' properties are mutually exclusive.");
      }
      const message: CompletionMessage = { type: MessageType.Completion, invocationId, hasResult: false };
      if (fields.error !== undefined) message.error = fields.error;
      else if (fields.hasResult) {
        message.hasResult = true;
        message.result = fields.result;
      }
      return withExtras(message, fields, false);
    }
    case MessageType.CancelInvocation:
      if (!invocationId) throw missing('invocationId');
      return withExtras<CancelInvocationMessage>(
        { type: MessageType.CancelInvocation, invocationId },
        fields,
        false,
      );
    case MessageType.Ping:
      return { type: MessageType.Ping };
    case MessageType.Close: {
      const message: CloseMessage = { type: MessageType.Close };
      if (fields.error !== undefined) message.error = fields.error;
      if (fields.allowReconnect) message.allowReconnect = true;
      return message;
    }
    case MessageType.Ack:
      if (fields.sequenceId === undefined) throw missing('sequenceId');
      return { type: MessageType.Ack, sequenceId: fields.sequenceId };
    case MessageType.Sequence:
      if (fields.sequenceId === undefined) throw missing('sequenceId');
      return { type: MessageType.Sequence, sequenceId: fields.sequenceId };
    case undefined:
      throw missing('type');
    default:
      return null;
  }
}

/**
 * `,"headers":{...}` when there are headers, else nothing (docs/protocol.md#headers: only write non-empty).
 */
function headersPart(headers: MessageHeaders | undefined): string {
  if (headers === undefined) return '';
  for (const _ in headers) return `,"headers":${JSON.stringify(headers)}`;
  return '';
}

function invocationIdPart(invocationId: string | undefined): string {
  return invocationId ? `,"invocationId":${JSON.stringify(invocationId)}` : '';
}

function streamIdsPart(streamIds: string[] | undefined): string {
  return streamIds !== undefined && streamIds.length > 0 ? `,"streamIds":${JSON.stringify(streamIds)}` : '';
}

/** A payload value; `undefined` (or a function) has no JSON form, and the peer sees null. */
function value(payload: unknown): string {
  return JSON.stringify(payload) ?? 'null';
}

/** Serializes one message to its JSON text, without the separator, in the reference's property order. */
function messageText(message: HubMessage): string {
  switch (message.type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation:
      return (
        `{"type":${message.type}${headersPart(message.headers)}${invocationIdPart(message.invocationId)}` +
        `,"target":${JSON.stringify(message.target)},"arguments":${value(message.arguments ?? [])}` +
        `${streamIdsPart(message.streamIds)}}`
      );
    case MessageType.StreamItem:
      return `{"type":2${headersPart(message.headers)}${invocationIdPart(message.invocationId)},"item":${value(message.item)}}`;
    case MessageType.Completion: {
      // The common Completion (no headers, a result) in one template: no intermediate strings.
      if (message.headers === undefined && message.invocationId && !message.error && message.hasResult) {
        return `{"type":3,"invocationId":${JSON.stringify(message.invocationId)},"result":${value(message.result)}}`;
      }
      const head = `{"type":3${headersPart(message.headers)}${invocationIdPart(message.invocationId)}`;
      if (message.error) return `${head},"error":${JSON.stringify(message.error)}}`;
      if (message.hasResult) return `${head},"result":${value(message.result)}}`;
      return `${head}}`;
    }
    case MessageType.CancelInvocation:
      return `{"type":5${headersPart(message.headers)}${invocationIdPart(message.invocationId)}}`;
    case MessageType.Ping:
      return '{"type":6}';
    case MessageType.Close:
      return (
        `{"type":7${message.error ? `,"error":${JSON.stringify(message.error)}` : ''}` +
        `${message.allowReconnect === true ? ',"allowReconnect":true' : ''}}`
      );
    case MessageType.Ack:
    case MessageType.Sequence:
      return `{"type":${message.type},"sequenceId":${JSON.stringify(message.sequenceId)}}`;
    default:
      throw new ProtocolError(
        'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
        `Unsupported message type: ${String((message as { type: unknown }).type)}.`,
        'InvalidOperationException',
      );
  }
}

/**
 * The `json` hub protocol, version 2, carried as text.
 *
 * Parsing accepts properties in any order (the JS client writes `type` last,
 * docs/protocol.md#json-reading), skips unknown properties and unknown message types, and reports
 * malformed input with the reference's texts. Writing follows docs/protocol.md#json-writing and
 * builds each message as one string, encoded once: it is the broadcast hot path.
 *
 * @example
 * ```ts
 * const bytes = jsonHubProtocol.writeMessage({ type: MessageType.Invocation, target: 'Send', arguments: ['hi'] });
 * // {"type":1,"target":"Send","arguments":["hi"]}\x1e
 * const { messages, consumed } = jsonHubProtocol.parseMessages(bytes, { maxMessageSize: 32768 });
 * ```
 */
export class JsonHubProtocol implements HubProtocol {
  /** Always `json`. */
  readonly name = 'json';
  /** Version 2 adds Ack and Sequence (stateful reconnect); version 1 clients simply never send them. */
  readonly version = 2;
  /** JSON travels as text frames on WebSockets and as text on SSE and long polling. */
  readonly transferFormat: TransferFormat = 'Text';

  /**
   * Parses every whole message in `input`; an incomplete last message is left for the next call
   * (its bytes are not counted in `consumed`).
   * @throws ProtocolError `SB_ERR_PROTOCOL_INVALID_MESSAGE` or `SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE`.
   */
  parseMessages(input: Uint8Array, options?: ParseOptions): ParseResult {
    const messages: HubMessage[] = [];
    // Known-good UTF-8 (text WebSocket messages) is decoded straight from each byte range, with no
    // view and no second check; anything else is checked first.
    const validated = options?.utf8Validated === true && Buffer.isBuffer(input);
    const consumed = forEachTextMessage(
      input,
      options?.maxMessageSize,
      (start, end) => {
        const object = validated
          ? parseJsonText((input as Buffer).toString('utf8', start, end), CODE)
          : parseJsonObject(input.subarray(start, end), CODE).object;
        const message = bindMessage(readFields(object));
        if (message !== null) messages.push(message);
      },
      options?.maxMessages,
    );
    return { messages, consumed };
  }

  /**
   * Serializes one message followed by 0x1E.
   * @throws ProtocolError `SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE` for an unknown type, or a payload
   * JSON.stringify rejects (a BigInt, a cycle).
   */
  writeMessage(message: HubMessage): Buffer {
    let text: string;
    try {
      text = messageText(message);
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError(
        'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
        `Failed to serialize a message of type ${message.type}: ${error instanceof Error ? error.message : String(error)}`,
        'JsonException',
        { cause: error },
      );
    }
    return Buffer.from(text + RECORD_SEPARATOR_CHAR, 'utf8');
  }
}

/** The shared JSON protocol instance; the codec holds no state, so one serves every connection. */
export const jsonHubProtocol: JsonHubProtocol = new JsonHubProtocol();
