/**
 * The protocol package's error catalogue. Every error this package raises carries one of these
 * stable codes; `docs/errors.md` lists them all (a test keeps the two in sync).
 * @module
 */

/** One entry of an error catalogue: what the error means and how it reaches the peer. */
export interface ErrorCatalogueEntry {
  /** One sentence: what went wrong. */
  readonly summary: string;
  /** How the peer learns of it: a Close message, a Completion error, an HTTP status, a log line. */
  readonly surface: string;
  /**
   * How bad it is for the operator: `error` (a request failed, or messages were lost) or
   * `warning` (retried or handled by itself; a process warning). Default `error`.
   */
  readonly severity?: 'error' | 'warning';
}

/** A package's catalogue: stable code to entry. */
export type ErrorCatalogue = Readonly<Record<string, ErrorCatalogueEntry>>;

/** The codes the protocol package raises. */
export const protocolErrors = {
  SB_ERR_PROTOCOL_INVALID_MESSAGE: {
    summary: 'A hub message is malformed: bad JSON or MessagePack, a missing or mistyped property.',
    surface: 'Close message "Connection closed with an error." (details with detailed errors on)',
  },
  SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE: {
    summary: 'A hub message, with its framing, is larger than the maximum receive message size.',
    surface:
      'Close message "Connection closed with an error." (details with detailed errors on); during the handshake, the reply "Handshake was canceled."',
  },
  SB_ERR_PROTOCOL_INVALID_HANDSHAKE: {
    summary: 'The handshake request is not a JSON object with a string protocol and an integer version.',
    surface: 'Handshake error reply, then the connection closes',
  },
  SB_ERR_PROTOCOL_INVALID_FRAMING: {
    summary: 'A MessagePack length prefix is malformed or announces more than 2 GB, or a frame is empty.',
    surface: 'Close message "Connection closed with an error." (details with detailed errors on)',
  },
  SB_ERR_PROTOCOL_UNWRITABLE_MESSAGE: {
    summary: 'A message given to writeMessage has an unknown type or a payload the serializer rejects.',
    surface: 'Thrown to the server code that tried to send; nothing reaches the peer',
  },
} as const satisfies ErrorCatalogue;

/** A code of the protocol package's catalogue. */
export type ProtocolErrorCode = keyof typeof protocolErrors;

/**
 * A malformed input. `message` is the reference implementation's text for the same fault (for
 * example `Missing required property 'target'.`), so that detailed errors read like ASP.NET's;
 * `exceptionType` is the .NET exception type name the reference reports with it.
 */
export class ProtocolError extends Error {
  /** The stable catalogue code. */
  readonly code: ProtocolErrorCode;
  /** The .NET exception type name the reference uses for this fault (`InvalidDataException`). */
  readonly exceptionType: string;

  /**
   * @param code - the catalogue code.
   * @param message - the reference implementation's text for the same fault.
   * @param exceptionType - the .NET exception type the reference raises for it.
   * @param options - `cause`: the underlying error (a `SyntaxError` from `JSON.parse`, for example).
   */
  constructor(
    code: ProtocolErrorCode,
    message: string,
    exceptionType = 'InvalidDataException',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProtocolError';
    this.code = code;
    this.exceptionType = exceptionType;
  }
}

/**
 * The error for a message (or handshake) that does not fit in `maxMessageSize` bytes, with the
 * reference text (docs/protocol.md#message-size-limit), so a detailed Close reads like ASP.NET's.
 */
export function messageTooLargeError(maxMessageSize: number): ProtocolError {
  return new ProtocolError(
    'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE',
    `The maximum message size of ${maxMessageSize}B was exceeded. The message size can be configured in AddHubOptions.`,
  );
}
