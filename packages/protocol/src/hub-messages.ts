/**
 * The hub messages of the SignalR hub protocol, as plain objects shared by every codec.
 *
 * The numbering and the field names follow the reference specification (HubProtocol.md in
 * dotnet/aspnetcore) one to one, so that spec, reference code and ours read side by side.
 * @module
 */

/** The numeric `type` of each hub message (identical in JSON and MessagePack). */
export const MessageType = {
  Invocation: 1,
  StreamItem: 2,
  Completion: 3,
  StreamInvocation: 4,
  CancelInvocation: 5,
  Ping: 6,
  Close: 7,
  Ack: 8,
  Sequence: 9,
} as const;

/** One of the values of {@link MessageType}. */
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** Custom headers carried by a message: string keys to string values. */
export type MessageHeaders = Record<string, string>;

/** Fields every message that may carry headers has. */
interface HubMessageBase {
  /** Headers; codecs write them only when non-empty. */
  headers?: MessageHeaders;
}

/**
 * Invoke a method on the other side. Without `invocationId` the call is non-blocking (`send`):
 * no Completion is sent back, not even an error.
 */
export interface InvocationMessage extends HubMessageBase {
  type: typeof MessageType.Invocation;
  /** Present for blocking calls (`invoke`) and client results; never an empty string. */
  invocationId?: string;
  target: string;
  arguments: unknown[];
  /** Ids of client-to-server streams that replace stream arguments. */
  streamIds?: string[];
}

/** Start a server-to-client stream; `invocationId` is required. */
export interface StreamInvocationMessage extends HubMessageBase {
  type: typeof MessageType.StreamInvocation;
  invocationId: string;
  target: string;
  arguments: unknown[];
  streamIds?: string[];
}

/** One item of a stream, in either direction. `item` is always written, even when null. */
export interface StreamItemMessage extends HubMessageBase {
  type: typeof MessageType.StreamItem;
  invocationId: string;
  item: unknown;
}

/**
 * The end of an invocation or a stream. Exactly one of three forms: an `error`; a result
 * (`hasResult: true`, `result` may be null); or neither (a void completion, or a stream's end).
 */
export interface CompletionMessage extends HubMessageBase {
  type: typeof MessageType.Completion;
  invocationId: string;
  /** A non-empty error text, mutually exclusive with a result. */
  error?: string;
  /** Whether the completion carries a result (JSON `result` present; MessagePack result kind 3). */
  hasResult: boolean;
  /** The result when `hasResult` is true (may be null). */
  result?: unknown;
}

/** The client cancels a server-to-client stream. */
export interface CancelInvocationMessage extends HubMessageBase {
  type: typeof MessageType.CancelInvocation;
  invocationId: string;
}

/** Keep-alive. Carries nothing, not even headers. */
export interface PingMessage {
  type: typeof MessageType.Ping;
}

/** The end of the connection, optionally with an error and a hint that the client may reconnect. */
export interface CloseMessage {
  type: typeof MessageType.Close;
  /** Omitted when there is no error; an empty string is written as no error. */
  error?: string;
  /** Written only when true. */
  allowReconnect?: boolean;
}

/** Stateful reconnect: the receiver has processed every trackable message up to `sequenceId`. */
export interface AckMessage {
  type: typeof MessageType.Ack;
  sequenceId: number;
}

/** Stateful reconnect: the sender's next trackable message has id `sequenceId`. */
export interface SequenceMessage {
  type: typeof MessageType.Sequence;
  sequenceId: number;
}

/** Any hub message. */
export type HubMessage =
  | InvocationMessage
  | StreamInvocationMessage
  | StreamItemMessage
  | CompletionMessage
  | CancelInvocationMessage
  | PingMessage
  | CloseMessage
  | AckMessage
  | SequenceMessage;

/** A Ping message; it never changes, so one object serves every write. */
export const PING_MESSAGE: PingMessage = Object.freeze({ type: MessageType.Ping });
