/**
 * What travels on a bus: one MessagePack envelope per send or command, the same for every backend.
 * Every envelope carries a version (`v`); a node never delivers one whose version it does not
 * understand (it counts and reports it as `SB_ERR_BACKPLANE_ENVELOPE_VERSION`). docs/scale-out.md
 * says how to upgrade a running cluster.
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import { type HubProtocol, MessageType } from '@switchboard/protocol';
import { SerializedHubMessage } from '../lifetime/serialized-hub-message.js';

/**
 * The envelope version this node writes and reads. Raised when the layout changes in a way an
 * older node would misread; nodes of different versions must not share a prefix (see
 * docs/scale-out.md, "Upgrading a cluster").
 */
export const ENVELOPE_VERSION = 1;

/** Fields every envelope carries. */
export interface EnvelopeBase {
  /** The envelope version ({@link ENVELOPE_VERSION} when written by this node). */
  readonly v: number;
  /** The origin node id: a node skips its own echo. */
  readonly o: string;
  /** The origin's envelope number: `o` and `n` identify a send across channels and retries. */
  readonly n: number;
}

/** A hub message for the channel's local recipients. */
export interface MessageEnvelope extends EnvelopeBase {
  readonly k: 'm';
  /** The invocation's target. */
  readonly t: string;
  /** The framed bytes, by protocol name: written to recipients as they are. */
  readonly f: Record<string, Uint8Array>;
  /** Excluded connection ids. */
  readonly x?: string[];
  /** sendGroups: every listed group, so that a member of several gets the message once. */
  readonly g?: string[];
  /** Client results: the invocation id, and the caller's node to answer to. */
  readonly i?: string;
  readonly r?: string;
  /**
   * The trace context of the send (W3C traceparent form), when it was made inside a sampled span:
   * the delivering node's span is its child. Optional, so version 1 nodes without it interoperate
   * (an older node ignores it; a newer one delivers untraced when it is absent).
   */
  readonly tp?: string;
}

/** A group change for a connection on another node; the owner acknowledges to node `r`. */
export interface GroupEnvelope extends EnvelopeBase {
  readonly k: 'ga' | 'gr';
  readonly c: string;
  readonly g: string;
  /** The request number the acknowledgement names. */
  readonly q: number;
  readonly r: string;
}

/** Closes the channel's local connections (a connection, or a user's). */
export interface CloseEnvelope extends EnvelopeBase {
  readonly k: 'close';
  readonly reason?: string;
  readonly ar?: boolean;
}

/** Acknowledges a group change (to the requester's inbox). */
export interface AckEnvelope extends EnvelopeBase {
  readonly k: 'ack';
  readonly q: number;
}

/** A client result for the caller's node (to its inbox). */
export interface ResultEnvelope extends EnvelopeBase {
  readonly k: 'res';
  /** The connection that answered. */
  readonly c: string;
  readonly i: string;
  /** The client's error text. */
  readonly e?: string;
  /** Whether the Completion carried a result, and the result. */
  readonly h?: boolean;
  readonly rv?: unknown;
  /** The connection disconnected ('disc') or is not on the node that got the invocation ('gone'). */
  readonly d?: 'disc' | 'gone';
}

/** Every envelope kind. */
export type Envelope = MessageEnvelope | GroupEnvelope | CloseEnvelope | AckEnvelope | ResultEnvelope;

/** An envelope without the fields the codec stamps (version, origin, number). */
export type EnvelopeBody = Envelope extends infer E
  ? E extends Envelope
    ? Omit<E, 'v' | 'o' | 'n'>
    : never
  : never;

/** Why bytes could not be read as an envelope this node understands. */
export class EnvelopeVersionError extends Error {
  /** The version the bytes carried, when they carried one. */
  readonly version: unknown;

  constructor(message: string, version: unknown) {
    super(message);
    this.name = 'EnvelopeVersionError';
    this.version = version;
  }
}

/** Serializes an envelope. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const bytes = encode(envelope, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Parses an envelope. Throws {@link EnvelopeVersionError} for bytes that are not an envelope or
 * carry a version other than {@link ENVELOPE_VERSION}: such bytes are never delivered.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (error) {
    throw new EnvelopeVersionError(
      `not a backplane envelope (${error instanceof Error ? error.message : String(error)})`,
      undefined,
    );
  }
  if (typeof value !== 'object' || value === null) {
    throw new EnvelopeVersionError('not a backplane envelope', undefined);
  }
  const record = value as Partial<Envelope>;
  if (record.v !== ENVELOPE_VERSION) {
    throw new EnvelopeVersionError(
      `envelope version ${JSON.stringify(record.v ?? null)} is not ${ENVELOPE_VERSION}`,
      record.v,
    );
  }
  if (typeof record.o !== 'string' || typeof record.k !== 'string' || typeof record.n !== 'number') {
    throw new EnvelopeVersionError('not a backplane envelope (missing o, n or k)', record.v);
  }
  return value as Envelope;
}

/**
 * The `f` and `t` fields of a message envelope: the message serialized once for each protocol the
 * cluster may use (the cache of `message` is shared with the local recipients). Undefined when no
 * protocol could serialize it (the sender's mistake, which the send reports).
 */
export function messageFrames(
  protocols: readonly HubProtocol[],
  message: SerializedHubMessage,
): { t: string; f: Record<string, Uint8Array> } | undefined {
  const frames: Record<string, Uint8Array> = {};
  let any = false;
  for (const protocol of protocols) {
    try {
      frames[protocol.name] = message.getSerialized(protocol);
      any = true;
    } catch {
      // reported by the send once local recipients are served
    }
  }
  if (!any) return undefined;
  return { t: (message.message as { target: string }).target, f: frames };
}

/**
 * The hub message of a received envelope, with the carried bytes set for each protocol this node
 * knows, so that they are written as they are. (A protocol the envelope does not carry would
 * serialize an invocation without arguments: list every protocol in use.)
 */
export function envelopeMessage(
  envelope: MessageEnvelope,
  protocolsByName: ReadonlyMap<string, HubProtocol>,
): SerializedHubMessage {
  const message = new SerializedHubMessage({
    type: MessageType.Invocation,
    target: envelope.t,
    arguments: [],
    ...(envelope.i !== undefined ? { invocationId: envelope.i } : {}),
  });
  for (const [name, bytes] of Object.entries(envelope.f)) {
    const protocol = protocolsByName.get(name);
    if (protocol)
      message.setSerialized(protocol, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return message;
}
