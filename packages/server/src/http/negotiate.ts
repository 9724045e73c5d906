/**
 * The negotiate exchange (docs/protocol.md#negotiate): reading the requested version and
 * writing the reply with the reference's field order.
 * @module
 */
import type { TransportType } from '../options.js';

/** The highest negotiate version the server speaks. */
export const MAX_NEGOTIATE_VERSION = 1;

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** The outcome of reading `negotiateVersion`: a version to use, or the error reply's text. */
export type NegotiateVersion = { ok: true; version: number } | { ok: false; error: string };

/**
 * Reads the `negotiateVersion` query value (docs/protocol.md#negotiate-version): missing is 0, above the
 * maximum is clamped.
 */
export function readNegotiateVersion(raw: string | null, minimum: number): NegotiateVersion {
  if (raw === null) {
    if (minimum > 0) {
      return {
        ok: false,
        error: "The client requested version '0', but the server does not support this version.",
      };
    }
    return { ok: true, version: 0 };
  }
  // What .NET's int.TryParse accepts: an optionally signed 32-bit decimal integer.
  const version = /^[+-]?\d+$/.test(raw.trim()) ? Number.parseInt(raw, 10) : Number.NaN;
  if (!Number.isSafeInteger(version) || version > INT32_MAX || version < INT32_MIN)
    return { ok: false, error: 'The client requested a non-integer protocol version.' };
  if (version < minimum) {
    return {
      ok: false,
      error: `The client requested version '${version}', but the server does not support this version.`,
    };
  }
  return { ok: true, version: Math.min(version, MAX_NEGOTIATE_VERSION) };
}

/**
 * Transfer formats each transport carries (docs/protocol.md#negotiate-reply): Server-Sent Events are text
 * only.
 */
const TRANSFER_FORMATS: Record<TransportType, string> = {
  WebSockets: '["Text","Binary"]',
  ServerSentEvents: '["Text"]',
  LongPolling: '["Text","Binary"]',
};

/** The `availableTransports` items of each frozen transport list, written once. */
const transportsJson = new WeakMap<readonly TransportType[], string>();

/** Fields of a negotiate reply. */
export interface NegotiateReply {
  negotiateVersion: number;
  connectionId: string;
  connectionToken: string;
  transports: readonly TransportType[];
  useStatefulReconnect?: boolean;
}

/**
 * Writes the reply as ASP.NET orders its fields; version 0 carries no token (docs/protocol.md#negotiate-v0).
 */
export function writeNegotiateReply(reply: NegotiateReply): string {
  let transports = transportsJson.get(reply.transports);
  if (transports === undefined) {
    transports = reply.transports
      .map((t) => `{"transport":"${t}","transferFormats":${TRANSFER_FORMATS[t]}}`)
      .join(',');
    // Keyed by the list itself: an endpoint's list is made once and never changed.
    if (Object.isFrozen(reply.transports)) transportsJson.set(reply.transports, transports);
  }
  return (
    '{' +
    (reply.useStatefulReconnect ? '"useStatefulReconnect":true,' : '') +
    `"negotiateVersion":${reply.negotiateVersion},` +
    `"connectionId":${JSON.stringify(reply.connectionId)},` +
    (reply.negotiateVersion > 0 ? `"connectionToken":${JSON.stringify(reply.connectionToken)},` : '') +
    `"availableTransports":[${transports}]}`
  );
}
