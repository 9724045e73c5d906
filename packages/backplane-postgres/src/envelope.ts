/**
 * What a row of `bus_messages` carries in its `payload`: one envelope per send or command. The
 * layout is `<u32 header length><header JSON><frame bytes…>`: the header names the kind and the
 * fields, and lists the frames (the message serialized once per protocol) by name and length, so
 * the serialized bytes travel as they are. A client result's Completion travels as a MessagePack
 * frame, so any value a client may return survives the trip.
 * @module
 */
import {
  type CompletionMessage,
  type HubProtocol,
  MessageType,
  messagePackHubProtocol,
} from '@switchboard/protocol';
import { SerializedHubMessage } from '@switchboard/server';

/** Fields every envelope carries. */
interface EnvelopeBase {
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
  /** The request number the acknowledgement names. */
  readonly q: number;
  readonly r: string;
}

/** Closes the target's local connections (a connection, or a user's). */
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
  /** The client's Completion, MessagePack-framed (absent with `d`). */
  readonly f?: { completion: Uint8Array };
  /** The connection disconnected ('disc') or is not on the node that got the invocation ('gone'). */
  readonly d?: 'disc' | 'gone';
}

/** Every envelope kind. */
export type Envelope = MessageEnvelope | GroupEnvelope | CloseEnvelope | AckEnvelope | ResultEnvelope;

/** Serializes an envelope: its `f` frames as raw bytes after the JSON header. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const frames = 'f' in envelope && envelope.f ? Object.entries(envelope.f) : [];
  const { f: _frames, ...rest } = envelope as Envelope & { f?: unknown };
  const header = Buffer.from(
    JSON.stringify({ ...rest, ...(frames.length > 0 ? { f: frames.map(([n, b]) => [n, b.length]) } : {}) }),
  );
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeUInt32BE(header.length, 0);
  return Buffer.concat([prefix, header, ...frames.map(([, b]) => b)]);
}

/** Parses an envelope; throws on bytes that are not one. */
export function decodeEnvelope(bytes: Buffer): Envelope {
  if (bytes.length < 4) throw new Error('not a backplane envelope');
  const length = bytes.readUInt32BE(0);
  if (4 + length > bytes.length) throw new Error('not a backplane envelope');
  const header = JSON.parse(bytes.toString('utf8', 4, 4 + length)) as Record<string, unknown>;
  if (typeof header.o !== 'string' || typeof header.k !== 'string' || typeof header.n !== 'number')
    throw new Error('not a backplane envelope');
  if (Array.isArray(header.f)) {
    const frames: Record<string, Uint8Array> = {};
    let offset = 4 + length;
    for (const [name, size] of header.f as [string, number][]) {
      if (offset + size > bytes.length) throw new Error('truncated backplane envelope');
      frames[name] = bytes.subarray(offset, offset + size);
      offset += size;
    }
    header.f = frames;
  }
  return header as unknown as Envelope;
}

/**
 * The envelope of a hub message: serialized once for each protocol the cluster may use (the cache
 * of `message` is shared with the local recipients). Undefined when no protocol could serialize it
 * (the sender's mistake, which the send reports).
 */
export function serializeMessage(
  origin: string,
  n: number,
  protocols: readonly HubProtocol[],
  message: SerializedHubMessage,
  extra: Partial<Omit<MessageEnvelope, 'o' | 'n' | 'k' | 't' | 'f'>>,
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
 * knows, so that they are written as they are.
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
    if (protocol) message.setSerialized(protocol, Buffer.from(bytes));
  }
  return message;
}

/** A client's Completion as the bytes a result envelope carries. */
export function encodeCompletion(completion: CompletionMessage): Uint8Array {
  return messagePackHubProtocol.writeMessage(completion);
}

/** The Completion a result envelope carries; undefined when the bytes are not one. */
export function decodeCompletion(bytes: Uint8Array): CompletionMessage | undefined {
  const message = messagePackHubProtocol.parseMessages(bytes).messages[0];
  return message?.type === MessageType.Completion ? message : undefined;
}
