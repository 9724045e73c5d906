/**
 * MessagePack codec candidates and SignalR workloads for the codec micro-benchmark.
 * Each candidate encodes a message's MessagePack array body and decodes it back.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { MessageType, messagePackHubProtocol } from '@switchboard/protocol';
import { isNativeAccelerationEnabled, Packr, Unpackr } from 'msgpackr';

const text128 = 'x'.repeat(128);
const chat = {
  id: 'm-000123',
  room: 'general',
  user: 'alice',
  text: 'é'.repeat(20) + 'y'.repeat(180),
  ts: 1_790_000_000_123,
  reactions: { '👍': 3, '🎉': 1 },
};

/** Workloads: SignalR message plus its MessagePack array form (docs/protocol.md#messagepack-layouts). */
export const workloads = {
  invocation: {
    message: { type: MessageType.Invocation, target: 'broadcast', arguments: [text128], headers: {} },
    array: [1, {}, null, 'broadcast', [text128], []],
  },
  completion: {
    message: { type: MessageType.Completion, invocationId: '42', result: text128, headers: {} },
    array: [3, {}, '42', 3, text128],
  },
  chat: {
    message: { type: MessageType.Invocation, target: 'message', arguments: [chat], headers: {} },
    array: [1, {}, null, 'message', [chat], []],
  },
};

const enc = new Encoder();
const dec = new Decoder();
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' });

/** Codec candidates: encode(array) -> bytes, decode(bytes) -> value. */
export const candidates = {
  '@msgpack/msgpack': { encode: (v) => enc.encode(v), decode: (b) => dec.decode(b) },
  [`msgpackr${isNativeAccelerationEnabled ? ' (native)' : ' (pure JS)'}`]: {
    encode: (v) => packr.pack(v),
    decode: (b) => unpackr.unpack(b),
  },
};

/** The whole protocol path: writeMessage (framed) and parseMessages. */
export const protocolPath = {
  encode: (m) => messagePackHubProtocol.writeMessage(m),
  decode: (b) => messagePackHubProtocol.parseMessages(b).messages,
};
