// The SignalR MessagePack hub protocol for the load generator: a tiny encoder for the few
// frames clients send, a generic decoder for the one-off correctness check, and a byte-level
// classifier (VarInt length prefix, then a fixarray whose first element is the message type).
import { openWs, post } from './protocols.mjs';

const HANDSHAKE = '{"protocol":"messagepack","version":1}\x1e';

/** MessagePack str (fixstr, str8 or str16). */
function str(s) {
  const b = Buffer.from(s, 'utf8');
  if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
  if (b.length < 256) return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
  return Buffer.concat([Buffer.from([0xda, b.length >> 8, b.length & 0xff]), b]);
}

/** A VarInt-length-prefixed frame around one encoded message. */
function frame(body) {
  const pre = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    pre.push(b);
  } while (n);
  return Buffer.concat([Buffer.from(pre), body]);
}

const NIL = Buffer.from([0xc0]);
const EMPTY_MAP = Buffer.from([0x80]);

/** [1, {}, invocationId|nil, target, [args…], []]: an Invocation with no stream ids. */
function invocation(id, target, args) {
  return frame(
    Buffer.concat([
      Buffer.from([0x96, 0x01]),
      EMPTY_MAP,
      id === null ? NIL : str(String(id)),
      str(target),
      Buffer.from([0x90 | args.length]),
      ...args.map(str),
      Buffer.from([0x90]),
    ]),
  );
}

/** Decodes one MessagePack value at `o`; returns [value, nextOffset]. Covers what SignalR sends. */
export function decode(b, o = 0) {
  const t = b[o];
  const seq = (n, at, map) => {
    const out = map ? {} : [];
    let p = at;
    for (let k = 0; k < n; k++) {
      let v;
      if (map) {
        let key;
        [key, p] = decode(b, p);
        [v, p] = decode(b, p);
        out[key] = v;
      } else {
        [v, p] = decode(b, p);
        out.push(v);
      }
    }
    return [out, p];
  };
  const text = (n, at) => [b.toString('utf8', at, at + n), at + n];
  if (t < 0x80) return [t, o + 1];
  if (t >= 0xe0) return [t - 0x100, o + 1];
  if ((t & 0xf0) === 0x80) return seq(t & 0x0f, o + 1, true);
  if ((t & 0xf0) === 0x90) return seq(t & 0x0f, o + 1, false);
  if ((t & 0xe0) === 0xa0) return text(t & 0x1f, o + 1);
  switch (t) {
    case 0xc0:
      return [null, o + 1];
    case 0xc2:
      return [false, o + 1];
    case 0xc3:
      return [true, o + 1];
    case 0xcc:
      return [b[o + 1], o + 2];
    case 0xcd:
      return [b.readUInt16BE(o + 1), o + 3];
    case 0xce:
      return [b.readUInt32BE(o + 1), o + 5];
    case 0xd9:
      return text(b[o + 1], o + 2);
    case 0xda:
      return text(b.readUInt16BE(o + 1), o + 3);
    case 0xdc:
      return seq(b.readUInt16BE(o + 1), o + 3, false);
    case 0xde:
      return seq(b.readUInt16BE(o + 1), o + 3, true);
    default:
      throw new Error(`msgpack: type byte 0x${t.toString(16)} not handled`);
  }
}

/** Splits a binary frame into its messages: [start, end) of each body after its VarInt prefix. */
function* bodies(buf) {
  let o = 0;
  while (o < buf.length) {
    let len = 0;
    let shift = 0;
    let b;
    do {
      b = buf[o++];
      len |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    yield [o, o + len];
    o += len;
  }
}

/** Decoded messages of captured frames (binary only; the text handshake is skipped). */
function messages(frames) {
  const out = [];
  for (const f of frames) {
    if (f[0] === 0x7b) continue;
    for (const [s, e] of bodies(f)) out.push(decode(f.subarray(s, e))[0]);
  }
  return out;
}

/** ASP.NET Core SignalR, MessagePack hub protocol, WebSockets transport (negotiate v1). */
export const signalrMsgpack = {
  name: 'signalr-msgpack',
  path: '/bench',
  async open(ctx, i, conn, sink) {
    const local = ctx.src(i);
    const body = await post(ctx, `${ctx.path}/negotiate?negotiateVersion=1`, local);
    const n = JSON.parse(body);
    if (typeof n.connectionToken !== 'string') throw new Error(`negotiate: ${body.slice(0, 200)}`);
    return openWs(
      `ws://127.0.0.1:${ctx.port}${ctx.path}?id=${n.connectionToken}`,
      local,
      conn,
      HANDSHAKE,
      (buf) => {
        const end = buf.indexOf(0x1e);
        if (buf[0] !== 0x7b || end === -1 || buf.toString('utf8', 0, end) !== '{}')
          throw new Error(`handshake: ${buf.toString('utf8', 0, 200)}`);
        // Anything after the handshake response in the same frame is already hub traffic.
        if (end + 1 < buf.length) signalrMsgpack.classify(buf.subarray(end + 1), conn, sink.current);
        return true;
      },
      (buf) => signalrMsgpack.classify(buf, conn, sink.current),
    );
  },
  echo: (id, p) => invocation(id, 'echo', [p]),
  broadcast: (p) => invocation(null, 'broadcast', [p]),
  ping: () => frame(Buffer.from([0x91, 0x06])),
  join: (id, g) => invocation(id, 'joinGroup', [g]),
  group: (g, p) => invocation(null, 'sendToGroup', [g, p]),
  // [3, headers, id, resultKind 3, result] and [1, headers, nil, 'broadcast', [p]].
  verifyEcho: (frames, p) => messages(frames).some((m) => m[0] === 3 && m[3] === 3 && m[4] === p),
  verifyBroadcast: (frames, p) =>
    messages(frames).some((m) => m[0] === 1 && m[3] === 'broadcast' && m[4]?.[0] === p),
  classify(buf, conn, sink) {
    let d = 0;
    let c = 0;
    let errs = 0;
    for (const [s, e] of bodies(buf)) {
      // Every message is a fixarray (0x9N) whose first element is the type as a positive fixint.
      const type = buf[s + 1];
      if (type === 1) d++;
      else if (type === 3) {
        c++;
        const m = decode(buf.subarray(s, e))[0];
        if (m[3] === 1) errs++;
      } else if (type === 7) conn.closedByServer = JSON.stringify(decode(buf.subarray(s, e))[0]);
    }
    if (d) sink.d(conn, d);
    if (c) sink.c(conn, c, errs);
  },
};
