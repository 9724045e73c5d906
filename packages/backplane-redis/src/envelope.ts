/**
 * What travels on the bus: one MessagePack envelope per send or command, framed on the live path
 * as `<id>|<prevId>|<envelope>` by the publish script (scripts.ts).
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import { type HubProtocol, MessageType } from '@switchboard/protocol';
import { SerializedHubMessage } from '@switchboard/server';

/** Fields every envelope carries. */
interface EnvelopeBase {
  /** The origin node id: a node skips its own echo. */
  readonly o: string;
  /** The origin's message number: `o` and `n` identify a send across channels and retries. */
  readonly n: number;
}

/** A hub message for the channel's local recipients. */
export interface MessageEnvelope extends EnvelopeBase {
  readonly k: 'm';
  /** The invocation's target (kept for diagnostics and a protocol the envelope does not carry). */
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
}

/** A group change for a connection on another node; the owner acknowledges to node `r`. */
export interface GroupEnvelope extends EnvelopeBase {
  readonly k: 'ga' | 'gr';
  readonly c: string;
  readonly g: string;
  /** The request id the acknowledgement names. */
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
  readonly v?: unknown;
  /** The connection disconnected ('disc') or is not on the node that got the invocation ('gone'). */
  readonly d?: 'disc' | 'gone';
}

/** Every envelope kind. */
export type Envelope = MessageEnvelope | GroupEnvelope | CloseEnvelope | AckEnvelope | ResultEnvelope;

/** Serializes an envelope. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const bytes = encode(envelope, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses an envelope; throws on bytes that are not one. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const value = decode(bytes) as Envelope;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof value.o !== 'string' ||
    typeof value.k !== 'string'
  ) {
    throw new Error('not a backplane envelope');
  }
  return value;
}

/** A message as the live path carries it: the log id, the previous log id and the envelope. */
export interface LiveFrame {
  readonly id: string;
  /** '' when the log was empty before this entry. */
  readonly prev: string;
  readonly payload: Buffer;
}

/** Splits `<id>|<prevId>|<envelope>`; undefined when the frame is malformed. */
export function parseLiveFrame(frame: Buffer): LiveFrame | undefined {
  const first = frame.indexOf(0x7c);
  const second = first < 0 ? -1 : frame.indexOf(0x7c, first + 1);
  if (second < 0) return undefined;
  return {
    id: frame.toString('latin1', 0, first),
    prev: frame.toString('latin1', first + 1, second),
    payload: frame.subarray(second + 1),
  };
}

/** Compares two stream ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am !== bm ? am - bm : as - bs;
}

function splitId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id), 0] : [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/**
 * The envelope of a hub message: serialized once for each protocol the cluster may use (the cache of
 * `message` is shared with the local recipients). Undefined when no protocol could serialize it
 * (the sender's mistake, which the send reports).
 */
export function serializeMessage(
  origin: string,
  n: number,
  protocols: readonly HubProtocol[],
  message: SerializedHubMessage,
  extra: Partial<MessageEnvelope>,
): Buffer | undefined {
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
  const target = (message.message as { target: string }).target;
  return encodeEnvelope({ ...extra, o: origin, n, k: 'm', t: target, f: frames });
}

/**
 * The hub message of a received envelope, with the carried bytes set for each protocol this node
 * knows, so that they are written as they are. (A protocol the envelope does not carry would
 * serialize an invocation without arguments: list every protocol in use in `protocols`.)
 */
export function deserializeMessage(
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
