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
    surface: 'Close message "Connection closed with an error." (details with detailed errors on)',
  },
  SB_ERR_PROTOCOL_INVALID_HANDSHAKE: {
    summary: 'The handshake request is not a JSON object with a string protocol and an integer version.',
    surface: 'Handshake error reply, then the connection closes',
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

  constructor(code: ProtocolErrorCode, message: string, exceptionType = 'InvalidDataException') {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.exceptionType = exceptionType;
  }
}
