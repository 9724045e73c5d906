// Control peer: the raw `ws` peer's echo and broadcast (`e<payload>`, `b<payload>`) with the
// WebSocket layer written here instead of the `ws` library: the upgrade answered by hand (RFC 6455
// 4.2.2), frames read straight from the socket's 'data' chunks and written as one buffer each.
// What the raw `ws` peer spends per message above this one is what the `ws` library's layer costs
// (its Receiver stream, its Sender), and so what a WebSocket layer of Switchboard's own could save.
//
// It does what those two scenarios need and what a safe server must: masked frames only, text
// checked as UTF-8, pings answered, a close answered and the socket ended, any other opcode,
// fragmented message or frame over 1 MiB refused with a close. No extensions, no groups, no
// backplane: it is a measuring control, not a server to build on.

import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { negotiateServer, serve } from './common.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_PAYLOAD = 1024 * 1024;
/** Every open socket, for a broadcast. */
const clients = new Set();

const http = negotiateServer();

http.on('upgrade', (req, socket, head) => {
  const key = req.headers['sec-websocket-key'];
  if (
    !req.url?.startsWith('/bench') ||
    typeof key !== 'string' ||
    req.headers.upgrade?.toLowerCase() !== 'websocket'
  ) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.setNoDelay(true);
  const state = { socket, pending: head.length > 0 ? head : undefined };
  clients.add(state);
  socket.on('data', (chunk) => onData(state, chunk));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clients.delete(state));
  if (state.pending) onData(state, Buffer.alloc(0));
});

/** Reads every whole frame of what arrived; keeps the rest for the next chunk. */
function onData(state, chunk) {
  const buf = state.pending === undefined ? chunk : Buffer.concat([state.pending, chunk]);
  state.pending = undefined;
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const b0 = buf[at];
    const b1 = buf[at + 1];
    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (buf.length - at < 4) break;
      length = buf.readUInt16BE(at + 2);
      offset += 2;
    } else if (length === 127) {
      if (buf.length - at < 10) break;
      length = buf.readUInt32BE(at + 2) * 0x1_0000_0000 + buf.readUInt32BE(at + 6);
      offset += 8;
    }
    if ((b1 & 0x80) === 0 || length > MAX_PAYLOAD) return fail(state, 1002);
    if (buf.length - offset < 4 + length) break;
    const mask = offset;
    const payload = buf.subarray(offset + 4, offset + 4 + length);
    for (let i = 0; i < length; i++) payload[i] ^= buf[mask + (i & 3)];
    at = offset + 4 + length;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (!fin) return fail(state, 1003);
    if (opcode === 1) {
      if (!isUtf8(payload)) return fail(state, 1007);
      onMessage(state, payload);
    } else if (opcode === 9) state.socket.write(frame(payload, 0x8a));
    else if (opcode === 8) return fail(state, 1000);
    else if (opcode !== 10) return fail(state, 1003);
  }
  if (at < buf.length) state.pending = buf.subarray(at);
}

function onMessage(state, data) {
  switch (data[0]) {
    case 0x65: // e
      state.socket.write(frame(data, 0x81));
      break;
    case 0x62: {
      // b: framed once, the same buffer to every socket
      const out = frame(data, 0x81);
      for (const c of clients) c.socket.write(out);
      break;
    }
  }
}

/**
 * One unmasked, unfragmented frame holding `data`, in one buffer: the framing of the server's
 * `frameMessage` (websocket-transport.ts), written again here so that this control loads neither
 * `ws` nor Switchboard (its idle memory is measured too).
 */
function frame(data, first) {
  const length = data.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + length);
  out[0] = first;
  if (length < 126) out[1] = length;
  else if (length < 65536) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  data.copy(out, header);
  return out;
}

/** Sends a close frame with `code` and ends the socket. */
function fail(state, code) {
  const body = Buffer.allocUnsafe(2);
  body.writeUInt16BE(code, 0);
  state.pending = undefined;
  state.socket.end(frame(body, 0x88));
  clients.delete(state);
}

serve(http, 'ws-framing');
