// Client-side wire adapters used by the load generator. Each speaks one peer's protocol over a
// raw `ws` WebSocket (no official clients: they cost too much per connection), and classifies
// every incoming frame with byte checks only, so the generator stays cheap per message.
//
// Adapter shape:
//   path                       default base path on the server
//   open(ctx, i, conn)         connects and handshakes connection i; resolves to the WebSocket
//   echo(id, p) / broadcast(p) / join(id, g) / group(g, p)   frames the client sends
//   classify(buf, conn, sink)  calls sink.d(conn, n) for n deliveries, sink.c(conn, n, errs) for
//                              completions; answers pings where the protocol requires it.
import http from 'node:http';
import WebSocket from 'ws';

const RS = 0x1e;
const WS_OPTS = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 15000 };
const agents = new Map();

/** A keep-alive HTTP agent per source address (negotiate requests reuse sockets like browsers). */
export function agentFor(localAddress) {
  let a = agents.get(localAddress);
  if (!a) {
    a = new http.Agent({ keepAlive: true, maxSockets: 64, localAddress });
    agents.set(localAddress, a);
  }
  return a;
}

export function closeAgents() {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

export function post(ctx, path, localAddress) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: ctx.port, path, method: 'POST', agent: agentFor(localAddress) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`negotiate ${res.statusCode}: ${body}`)),
        );
      },
    );
    req.setTimeout(15000, () => req.destroy(new Error('negotiate timeout')));
    req.on('error', reject);
    req.setHeader('Content-Length', 0);
    req.setHeader('X-Requested-With', 'XMLHttpRequest');
    req.end();
  });
}

/**
 * Opens a WebSocket and runs `step(buf)` on each message until it returns true (handshake done);
 * after that every message goes to `onFrame`. One listener for the whole life of the socket, so
 * nothing that arrives right after the handshake can be missed.
 */
export function openWs(url, localAddress, conn, firstSend, step, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...WS_OPTS, localAddress });
    let done = false;
    const timer = setTimeout(() => fail(new Error('handshake timeout')), 15000);
    function fail(e) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      reject(e);
    }
    ws.on('error', fail);
    ws.on('close', () => {
      conn.closed = true;
      fail(new Error('closed during handshake'));
    });
    ws.on('open', () => {
      if (firstSend) ws.send(firstSend);
    });
    ws.on('message', (buf) => {
      if (done) {
        if (conn.capture) conn.capture.push(Buffer.from(buf));
        return onFrame(buf);
      }
      try {
        if (!step(buf, ws)) return;
      } catch (e) {
        return fail(e);
      }
      done = true;
      clearTimeout(timer);
      resolve(ws);
    });
  });
}

/** Parses the JSON records of one frame (for the one-off correctness check only). */
export function recs(frame) {
  return String(frame)
    .split('\x1e')
    .filter(Boolean)
    .map((r) => JSON.parse(r));
}

/** ASP.NET Core SignalR, JSON hub protocol, WebSockets transport (negotiate v1 unless skipped). */
export const signalrJson = {
  name: 'signalr-json',
  path: '/bench',
  async open(ctx, i, conn, sink) {
    const local = ctx.src(i);
    let url = `ws://127.0.0.1:${ctx.port}${ctx.path}`;
    if (!ctx.skipNegotiation) {
      const body = await post(ctx, `${ctx.path}/negotiate?negotiateVersion=1`, local);
      const n = JSON.parse(body);
      if (typeof n.connectionToken !== 'string') throw new Error(`negotiate: ${body.slice(0, 200)}`);
      url += `?id=${n.connectionToken}`;
    }
    return openWs(
      url,
      local,
      conn,
      '{"protocol":"json","version":1}\x1e',
      (buf) => {
        const s = buf.toString();
        if (!s.startsWith('{}\x1e')) throw new Error(`handshake: ${s.slice(0, 200)}`);
        return true;
      },
      (buf) => signalrJson.classify(buf, conn, sink.current),
    );
  },
  echo: (id, p) => `{"type":1,"invocationId":"${id}","target":"echo","arguments":["${p}"]}\x1e`,
  ping: () => '{"type":6}\x1e',
  broadcast: (p) => `{"type":1,"target":"broadcast","arguments":["${p}"]}\x1e`,
  join: (id, g) => `{"type":1,"invocationId":"${id}","target":"joinGroup","arguments":["${g}"]}\x1e`,
  group: (g, p) => `{"type":1,"target":"sendToGroup","arguments":["${g}","${p}"]}\x1e`,
  verifyEcho: (frames, p) => frames.some((f) => recs(f).some((r) => r.type === 3 && r.result === p)),
  verifyBroadcast: (frames, p) =>
    frames.some((f) =>
      recs(f).some((r) => r.type === 1 && r.target === 'broadcast' && r.arguments?.[0] === p),
    ),
  classify(buf, conn, sink) {
    // A frame holds one or more records, each ending in 0x1E; property order is arbitrary.
    let d = 0;
    let c = 0;
    let errs = 0;
    let start = 0;
    for (let end = buf.indexOf(RS, 0); end !== -1; end = buf.indexOf(RS, start)) {
      const t = buf.indexOf('"type":', start);
      const type = t !== -1 && t < end ? buf[t + 7] : 0;
      if (type === 0x31) d++;
      else if (type === 0x33) {
        c++;
        const e = buf.indexOf('"error"', start);
        if (e !== -1 && e < end) errs++;
      } else if (type === 0x37) conn.closedByServer = buf.toString('utf8', start, end);
      start = end + 1;
    }
    if (d) sink.d(conn, d);
    if (c) sink.c(conn, c, errs);
  },
};

/** Socket.IO 4 (Engine.IO 4) over the websocket transport only, default namespace. */
export const socketio = {
  name: 'socketio',
  path: '/socket.io',
  open(ctx, i, conn, sink) {
    let stage = 0;
    return openWs(
      `ws://127.0.0.1:${ctx.port}${ctx.path}/?EIO=4&transport=websocket`,
      ctx.src(i),
      conn,
      null,
      (buf, ws) => {
        const s = buf.toString();
        if (stage === 0 && s[0] === '0') {
          stage = 1;
          ws.send('40');
          return false;
        }
        if (stage === 1 && s.startsWith('40')) return true;
        if (s !== '2') throw new Error(`socket.io handshake: ${s.slice(0, 200)}`);
        ws.send('3');
        return false;
      },
      (buf) => socketio.classify(buf, conn, sink.current),
    );
  },
  echo: (id, p) => `42${id}["echo","${p}"]`,
  broadcast: (p) => `42["broadcast","${p}"]`,
  join: (id, g) => `42${id}["join","${g}"]`,
  group: (g, p) => `42["group","${g}","${p}"]`,
  verifyEcho: (frames, p) => frames.some((f) => String(f) === `430["${p}"]`),
  verifyBroadcast: (frames, p) => frames.some((f) => String(f) === `42["broadcast","${p}"]`),
  classify(buf, conn, sink) {
    const b0 = buf[0];
    if (b0 === 0x34) {
      if (buf[1] === 0x32) sink.d(conn, 1);
      else if (buf[1] === 0x33) sink.c(conn, 1, 0);
      else if (buf[1] === 0x31) conn.closedByServer = 'socket.io disconnect';
    } else if (b0 === 0x32 && buf.length === 1) conn.ws.send('3');
  },
};

/** The raw `ws` baseline: a one-letter command prefix, and the server writes frames back as is. */
export const rawWs = {
  name: 'ws',
  path: '/bench',
  open(ctx, i, conn, sink) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${ctx.port}${ctx.path}`, {
        ...WS_OPTS,
        localAddress: ctx.src(i),
      });
      const fail = (e) => {
        ws.terminate();
        reject(e);
      };
      ws.once('error', fail);
      ws.on('close', () => {
        conn.closed = true;
      });
      ws.on('message', (buf) => {
        if (conn.capture) conn.capture.push(Buffer.from(buf));
        rawWs.classify(buf, conn, sink.current);
      });
      ws.once('open', () => {
        ws.off('error', fail);
        ws.on('error', () => {});
        resolve(ws);
      });
    });
  },
  /** The storm's first exchange, as a SignalR client's negotiate: a small POST, a small JSON answer. */
  stormPrelude: (ctx, i) => post(ctx, `${ctx.path}/negotiate`, ctx.src(i)),
  echo: (_id, p) => `e${p}`,
  broadcast: (p) => `b${p}`,
  join: (_id, g) => `j${g}`,
  group: (g, p) => `g${g}|${p}`,
  verifyEcho: (frames, p) => frames.some((f) => String(f) === `e${p}`),
  verifyBroadcast: (frames, p) => frames.some((f) => String(f) === `b${p}`),
  classify(buf, conn, sink) {
    const b0 = buf[0];
    if (b0 === 0x62 || b0 === 0x67) sink.d(conn, 1);
    else if (b0 === 0x65 || b0 === 0x6a) sink.c(conn, 1, 0);
  },
};

/** The WebSocket adapters of this file; lib/adapters.mjs adds MessagePack and the HTTP transports. */
export const wsAdapters = { ws: rawWs, socketio, 'signalr-json': signalrJson };
