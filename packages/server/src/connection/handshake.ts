/**
 * The hub connection's handshake (docs/protocol.md#handshake): the client's request parsed with
 * the size limit, and the protocol and version it asks for checked against what the hub and the
 * transport offer. Pure: the connection applies the outcome (reply, protocol, close).
 * @module
 */
import { type HubProtocol, ProtocolError, parseHandshakeRequest } from '@switchboard/protocol';
import { errorMessage } from '../errors.js';
import type { ResolvedHubOptions } from '../options.js';

/**
 * What a complete handshake request came to: the protocol and version to speak and the bytes it
 * took, or the reason to refuse it (the text of the handshake reply) with the log event's name.
 */
export type HandshakeOutcome =
  | { readonly ok: true; readonly protocol: HubProtocol; readonly version: number; readonly consumed: number }
  | { readonly ok: false; readonly message: string; readonly event: string };

/**
 * Reads the handshake request at the start of `buffer`. Returns undefined while it is incomplete.
 * The refusals use the reference server's texts (docs/protocol.md#handshake-errors).
 */
export function acceptHandshake(
  buffer: Buffer,
  protocols: readonly HubProtocol[],
  options: Pick<ResolvedHubOptions, 'maximumReceiveMessageSize' | 'enableDetailedErrors'>,
  supportsBinary: boolean,
): HandshakeOutcome | undefined {
  let parsed: ReturnType<typeof parseHandshakeRequest>;
  try {
    parsed = parseHandshakeRequest(buffer, options.maximumReceiveMessageSize);
  } catch (error) {
    if (error instanceof ProtocolError && error.code === 'SB_ERR_PROTOCOL_MESSAGE_TOO_LARGE') {
      return refuse('Handshake was canceled.', 'handshake.too_large');
    }
    const detail = options.enableDetailedErrors
      ? ` ${protocolExceptionType(error)}: ${errorMessage(error)}`
      : '';
    return refuse(
      `An unexpected error occurred during connection handshake.${detail}`,
      'handshake.malformed',
    );
  }
  if (!parsed) return undefined;
  const { request, consumed } = parsed;
  const wanted = request.protocol.toLowerCase();
  const protocol = protocols.find((p) => p.name === wanted);
  if (!protocol) {
    return refuse(`The protocol '${request.protocol}' is not supported.`, 'handshake.unknown_protocol');
  }
  if (request.version > protocol.version || request.version < 0) {
    return refuse(
      `The server does not support version ${request.version} of the '${request.protocol}' protocol.`,
      'handshake.unsupported_version',
    );
  }
  if (protocol.transferFormat === 'Binary' && !supportsBinary) {
    return refuse(
      `Cannot use the '${request.protocol}' protocol on the current transport. The transport does not support 'Binary' transfer format.`,
      'handshake.transfer_format',
    );
  }
  return { ok: true, protocol, version: request.version, consumed };
}

function refuse(message: string, event: string): HandshakeOutcome {
  return { ok: false, message, event };
}

/**
 * The exception type named in a detailed error text: a protocol error's reference type
 * (`InvalidDataException`…), else the error's own name, else `Exception`.
 */
export function protocolExceptionType(error: unknown): string {
  if (error instanceof ProtocolError) return error.exceptionType;
  if (error instanceof Error && error.name !== 'Error') return error.name;
  return 'Exception';
}
