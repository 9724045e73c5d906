/**
 * The MessagePack hub protocol (docs/protocol.md#messagepack-protocol; the reference is
 * MessagePackHubProtocolWorker.cs, whose error texts we reuse, and the JS client's
 * MessagePackHubProtocol.ts, whose encoder settings we share so payloads round-trip unchanged).
 * @module
 */

import { Decoder, Encoder } from '@msgpack/msgpack';
import { forEachBinaryMessage, lengthPrefixSize, writeLengthPrefix } from './binary-message-format.js';
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
import { MessagePackReader } from './message-pack-reader.js';

const CODE = 'SB_ERR_PROTOCOL_INVALID_MESSAGE';

// Completion result kinds (docs/protocol.md#messagepack-layouts).
const ERROR_RESULT = 1;
const VOID_RESULT = 2;
const NON_VOID_RESULT = 3;

function invalid(message: string, cause?: unknown): ProtocolError {
  return new ProtocolError(
    CODE,
    message,
    'InvalidDataException',
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads the elements of one message array. Reads stop at the array's declared length: a missing
 * element fails like a mistyped one (the reference's "Reading 'x' as T failed."), and elements past
 * the ones a message type needs are ignored (docs/protocol.md#messagepack-layouts, forward compatibility).
 */
class MessageFields {
  private left: number;

  constructor(
    private readonly reader: MessagePackReader,
    private readonly decoder: Decoder,
    readonly count: number,
  ) {
    this.left = count;
  }

  private take(): boolean {
    if (this.left === 0) return false;
    this.left--;
    return true;
  }

  int(name: string, kind: 'Int32' | 'Int64'): number {
    const value = this.take() ? this.reader.readInteger() : undefined;
    const fits = value !== undefined && (kind === 'Int64' || (value >= -(2 ** 31) && value < 2 ** 31));
    if (!fits) throw invalid(`Reading '${name}' as ${kind} failed.`);
    return value;
  }

  /** A string or nil (null). */
  string(name: string): string | null {
    const value = this.take() ? this.reader.readStringOrNil() : undefined;
    if (value === undefined) throw invalid(`Reading '${name}' as String failed.`);
    return value;
  }

  boolean(name: string): boolean {
    const value = this.take() ? this.reader.readBoolean() : undefined;
    if (value === undefined) throw invalid(`Reading '${name}' as Boolean failed.`);
    return value;
  }

  /**
   * The headers map; absent when empty. Keys and values must be non-empty strings
   * (docs/protocol.md#messagepack-layouts).
   */
  headers(): MessageHeaders | undefined {
    const count = this.take() ? this.reader.readMapHeader() : undefined;
    if (count === undefined) throw invalid("Reading map length for 'headers' failed.");
    if (count === 0) return undefined;
    const headers: MessageHeaders = {};
    for (let i = 0; i < count; i++) {
      const key = this.reader.readStringOrNil();
      if (key === undefined) throw invalid(`Reading 'headers[${i}].Key' as String failed.`);
      if (!key) throw invalid('Null or empty key in header.');
      const value = this.reader.readStringOrNil();
      if (value === undefined) throw invalid(`Reading 'headers[${i}].Value' as String failed.`);
      if (!value) throw invalid('Null or empty value in header.');
      // A plain assignment of "__proto__" would replace the prototype instead of adding a header.
      if (key === '__proto__') {
        Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
      } else headers[key] = value;
    }
    return headers;
  }

  /** The arguments array, decoded in one call once its extent is known. */
  arguments(): unknown[] {
    const start = this.reader.pos;
    const count = this.take() ? this.reader.readArrayHeader() : undefined;
    if (count === undefined) throw invalid("Reading array length for 'arguments' failed.");
    this.reader.pos = start;
    return this.decodeNext('argument') as unknown[];
  }

  /** One payload value (a stream item or a result). */
  value(name: string): unknown {
    if (!this.take()) throw invalid(deserializeFailure(name));
    return this.decodeNext(name);
  }

  private decodeNext(name: string): unknown {
    const start = this.reader.pos;
    if (!this.reader.skipValue()) throw invalid(deserializeFailure(name));
    try {
      // Decoding a subarray of the frame: bin values come out as views into the caller's input.
      return this.decoder.decode(this.reader.bytesBetween(start, this.reader.pos));
    } catch (error) {
      throw invalid(deserializeFailure(name), error);
    }
  }

  /** The stream ids of an Invocation or StreamInvocation, when the array has them (6 elements). */
  streamIds(): string[] | undefined {
    if (this.count <= 5) return undefined;
    const count = this.take() ? this.reader.readArrayHeader() : undefined;
    if (count === undefined) throw invalid("Reading array length for 'streamIds' failed.");
    if (count === 0) return undefined;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.reader.readStringOrNil();
      if (id === undefined) throw invalid(`Reading 'streamIds[${i}]' as String failed.`);
      if (!id) throw invalid('Null or empty value in streamIds received.');
      ids.push(id);
    }
    return ids;
  }
}

// The reference's text for a payload value it cannot deserialize; our "type" is always Object.
function deserializeFailure(name: string): string {
  return `Deserializing object of the \`Object\` type for '${name}' failed.`;
}

/** A non-empty invocation id, or the reference's error for the message type. */
function requiredId(id: string | null, messageName: string): string {
  if (!id) throw invalid(`Null or empty invocation ID for ${messageName} message.`);
  return id;
}

function requiredTarget(target: string | null, messageName: string): string {
  if (!target) throw invalid(`Null or empty target for ${messageName} message.`);
  return target;
}

function withHeaders<T extends { headers?: MessageHeaders }>(
  message: T,
  headers: MessageHeaders | undefined,
): T {
  if (headers !== undefined) message.headers = headers;
  return message;
}

/** Parses one message body (the bytes after the length prefix). Null for an unknown type. */
function parseBody(body: Uint8Array, decoder: Decoder): HubMessage | null {
  // An empty frame is the JS client's "Invalid payload." (the reference would fail reading the array).
  if (body.length === 0) throw new ProtocolError('SB_ERR_PROTOCOL_INVALID_FRAMING', 'Invalid payload.');
  const reader = new MessagePackReader(body);
  const count = reader.readArrayHeader();
  if (count === undefined) throw invalid("Reading array length for 'message' failed.");
  const f = new MessageFields(reader, decoder, count);
  const type = f.int('messageType', 'Int32');
  switch (type) {
    case MessageType.Invocation: {
      const headers = f.headers();
      const id = f.string('invocationId');
      const target = requiredTarget(f.string('target'), 'Invocation');
      const message: InvocationMessage = { type, target, arguments: f.arguments() };
      // nil or "" both mean a non-blocking call (docs/protocol.md#messagepack-layouts).
      if (id) message.invocationId = id;
      const streamIds = f.streamIds();
      if (streamIds) message.streamIds = streamIds;
      return withHeaders(message, headers);
    }
    case MessageType.StreamInvocation: {
      const headers = f.headers();
      const invocationId = requiredId(f.string('invocationId'), 'StreamInvocation');
      const target = requiredTarget(f.string('target'), 'StreamInvocation');
      const message: StreamInvocationMessage = { type, invocationId, target, arguments: f.arguments() };
      const streamIds = f.streamIds();
      if (streamIds) message.streamIds = streamIds;
      return withHeaders(message, headers);
    }
    case MessageType.StreamItem: {
      const headers = f.headers();
      const invocationId = requiredId(f.string('invocationId'), 'StreamItem');
      return withHeaders<StreamItemMessage>({ type, invocationId, item: f.value('item') }, headers);
    }
    case MessageType.Completion: {
      const headers = f.headers();
      const invocationId = requiredId(f.string('invocationId'), 'Completion');
      const kind = f.int('resultKind', 'Int32');
      const message: CompletionMessage = { type, invocationId, hasResult: false };
      if (kind === ERROR_RESULT) {
        // A nil error reads as no error, as in the reference (its ReadString returns null).
        const error = f.string('error');
        if (error !== null) message.error = error;
      } else if (kind === NON_VOID_RESULT) {
        message.hasResult = true;
        // The reference names the result 'argument' in this error.
        message.result = f.value('argument');
      } else if (kind !== VOID_RESULT) {
        throw invalid('Invalid invocation result kind.');
      }
      return withHeaders(message, headers);
    }
    case MessageType.CancelInvocation: {
      const headers = f.headers();
      const invocationId = requiredId(f.string('invocationId'), 'CancelInvocation');
      return withHeaders<CancelInvocationMessage>({ type, invocationId }, headers);
    }
    case MessageType.Ping:
      return { type };
    case MessageType.Close: {
      const message: CloseMessage = { type };
      const error = f.string('error');
      // An empty string is still an error on the way in, as in the reference.
      if (error !== null) message.error = error;
      // The JS client sends [7, nil]; servers send a third element (docs/protocol.md#messagepack-layouts).
      if (count > 2 && f.boolean('allowReconnect')) message.allowReconnect = true;
      return message;
    }
    case MessageType.Ack:
      return { type, sequenceId: f.int('sequenceId', 'Int64') };
    case MessageType.Sequence:
      return { type, sequenceId: f.int('sequenceId', 'Int64') };
    default:
      return null;
  }
}

/** The array a message is written as, per docs/protocol.md#messagepack-layouts (what ASP.NET writes). */
function messageArray(message: HubMessage): unknown[] {
  switch (message.type) {
    case MessageType.Invocation:
      // Always 6 elements and nil for no id; "" must not reach the wire as an id.
      return [
        1,
        message.headers ?? {},
        message.invocationId || null,
        message.target,
        message.arguments ?? [],
        message.streamIds ?? [],
      ];
    case MessageType.StreamInvocation:
      return [
        4,
        message.headers ?? {},
        message.invocationId,
        message.target,
        message.arguments ?? [],
        message.streamIds ?? [],
      ];
    case MessageType.StreamItem:
      return [2, message.headers ?? {}, message.invocationId, message.item ?? null];
    case MessageType.Completion: {
      const headers = message.headers ?? {};
      if (message.error) return [3, headers, message.invocationId, ERROR_RESULT, message.error];
      if (message.hasResult)
        return [3, headers, message.invocationId, NON_VOID_RESULT, message.result ?? null];
      return [3, headers, message.invocationId, VOID_RESULT];
    }
    case MessageType.CancelInvocation:
      return [5, message.headers ?? {}, message.invocationId];
    case MessageType.Ping:
      return [6];
    case MessageType.Close:
      // Always 3 elements from a server; an empty error is written as none
      // (docs/protocol.md#messagepack-layouts).
      return [7, message.error || null, message.allowReconnect === true];
    case MessageType.Ack:
    case MessageType.Sequence:
      return [message.type, message.sequenceId];
    default:
      throw new ProtocolError(
        'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
        `Unsupported message type: ${String((message as { type: unknown }).type)}.`,
        'InvalidOperationException',
      );
  }
}

/**
 * The `messagepack` hub protocol, version 2, carried as binary.
 *
 * Values keep their MessagePack types: bin comes out as `Uint8Array` (a view into the parsed
 * input, not a copy: keep the input's memory unchanged while the values are in use), the
 * timestamp extension (-1) as `Date`, maps as plain objects; writing maps them back the same way,
 * with the encoder settings of the official JS client (docs/protocol.md#messagepack-values).
 *
 * @example
 * ```ts
 * messagePackHubProtocol.writeMessage({ type: MessageType.Ping }); // <02 91 06>
 * const { messages, consumed } = messagePackHubProtocol.parseMessages(bytes, { maxMessageSize: 32768 });
 * ```
 */
export class MessagePackHubProtocol implements HubProtocol {
  /** Always `messagepack`. */
  readonly name = 'messagepack';
  /** Version 2 adds Ack and Sequence (stateful reconnect). */
  readonly version = 2;
  /** Binary frames on WebSockets; base64 is never used, so Server-Sent Events cannot carry it. */
  readonly transferFormat: TransferFormat = 'Binary';

  // One encoder and decoder per protocol instance: both are synchronous and hold no state between
  // calls, and reusing the encoder's buffer avoids an allocation per message.
  private readonly encoder = new Encoder();
  private readonly decoder = new Decoder();

  /**
   * Parses every whole message in `input`; an incomplete last message is left for the next call.
   * @throws ProtocolError `SB_ERR_PROTOCOL_INVALID_MESSAGE`, `SB_ERR_PROTOCOL_INVALID_FRAMING` or
   * `SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE`.
   */
  parseMessages(input: Uint8Array, options?: ParseOptions): ParseResult {
    const messages: HubMessage[] = [];
    // Message by message, as the reference does: a malformed message fails before the frames
    // after it are looked at, however the transport cut the bytes.
    const consumed = forEachBinaryMessage(
      input,
      options?.maxMessageSize,
      (start, end) => {
        const message = parseBody(input.subarray(start, end), this.decoder);
        if (message !== null) messages.push(message);
      },
      options?.maxMessages,
    );
    return { messages, consumed };
  }

  /**
   * Serializes one message with its length prefix, in one new Buffer.
   * @throws ProtocolError `SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE` for an unknown type or a payload the
   * encoder rejects.
   */
  writeMessage(message: HubMessage): Buffer {
    const array = messageArray(message);
    let body: Uint8Array;
    try {
      // A view into the encoder's reused buffer: copy it out before the next encode.
      body = this.encoder.encodeSharedRef(array);
    } catch (error) {
      throw new ProtocolError(
        'SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE',
        `Failed to serialize a message of type ${message.type}: ${error instanceof Error ? error.message : String(error)}`,
        'MessagePackSerializationException',
        { cause: error },
      );
    }
    const prefixSize = lengthPrefixSize(body.length);
    const output = Buffer.allocUnsafe(prefixSize + body.length);
    writeLengthPrefix(body.length, output, 0);
    output.set(body, prefixSize);
    return output;
  }
}

/** The shared MessagePack protocol instance. Not re-entrant, but JavaScript never re-enters it. */
export const messagePackHubProtocol: MessagePackHubProtocol = new MessagePackHubProtocol();
