// HTTP transports for the load generator: SignalR over Server-Sent Events and over long polling,
// and Socket.IO 4 over its long-polling transport. Each `open` returns a session object with the
// WebSocket's two methods the generator uses, `send(frame)` and `terminate()`; sends go out as
// POSTs, one at a time per connection (what queued meanwhile travels in the next POST's body),
// as neither server accepts overlapping sends from one connection.
import http from 'node:http';
import { post, signalrJson, socketio } from './protocols.mjs';

const agents = new Map();
const TIMEOUT_MS = 15000;

/** A keep-alive agent per source address with no socket cap: every receiver holds a request. */
function agentFor(localAddress) {
  let a = agents.get(localAddress);
  if (!a) {
    a = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, localAddress });
    agents.set(localAddress, a);
  }
  return a;
}

/** Destroys the transport agents (their idle sockets). */
export function closeHttpAgents() {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/**
 * One HTTP request; resolves to {status, body} once the whole body is in. `timeoutMs` bounds it
 * (long polls pass a longer one); `track(req)` receives the request so that it can be aborted.
 * A request that fails with ECONNRESET on a reused keep-alive socket (the server closed it as
 * idle just then) is sent again once on a fresh one, as browsers do.
 */
function request(ctx, method, path, local, opts = {}, retried = false) {
  const { body, headers = {}, timeoutMs = TIMEOUT_MS, track } = opts;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: ctx.port, path, method, agent: agentFor(local), headers },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path.split('?')[0]} timeout`)));
    req.on('error', (e) => {
      if (!retried && req.reusedSocket && e.code === 'ECONNRESET' && !req.destroyedByUs)
        resolve(request(ctx, method, path, local, opts, true));
      else reject(e);
    });
    track?.(req);
    if (body !== undefined) req.setHeader('Content-Length', Buffer.byteLength(body));
    req.end(body);
  });
}

/**
 * The send side of an HTTP connection: frames queue while a POST is in flight and leave
 * together in the next one, joined by `sep`. A failed POST marks the connection closed.
 */
class HttpSession {
  constructor(ctx, path, local, conn, sep) {
    Object.assign(this, { ctx, path, local, conn, sep });
    this.queue = [];
    this.posting = false;
    this.stopped = false;
    this.inflight = new Set();
  }

  send(frame) {
    if (this.stopped) return;
    this.queue.push(typeof frame === 'string' ? frame : frame.toString('latin1'));
    if (!this.posting) this.flush();
  }

  async flush() {
    this.posting = true;
    while (this.queue.length && !this.stopped) {
      const body = this.queue.join(this.sep);
      this.queue.length = 0;
      try {
        const r = await this.request('POST', { body, headers: { 'Content-Type': 'text/plain' } });
        if (r.status !== 200) throw new Error(`POST ${r.status}: ${r.body.toString().slice(0, 200)}`);
      } catch (e) {
        if (!this.stopped) this.conn.closedByServer = String(e.message);
        this.conn.closed = true;
        break;
      }
    }
    this.posting = false;
  }

  /** A request on this connection's URL, aborted by terminate(). */
  request(method, opts = {}) {
    return request(this.ctx, method, this.path, this.local, {
      ...opts,
      track: (req) => {
        this.inflight.add(req);
        req.on('close', () => this.inflight.delete(req));
      },
    });
  }

  terminate() {
    this.stopped = true;
    for (const req of this.inflight) {
      req.destroyedByUs = true;
      req.destroy();
    }
    this.inflight.clear();
  }
}

async function negotiate(ctx, local) {
  const body = await post(ctx, `${ctx.path}/negotiate?negotiateVersion=1`, local);
  const n = JSON.parse(body);
  if (typeof n.connectionToken !== 'string') throw new Error(`negotiate: ${body.slice(0, 200)}`);
  return n.connectionToken;
}

const JSON_HANDSHAKE = '{"protocol":"json","version":1}\x1e';

/** SSE payload of a complete chunk of events: the `data: ` lines' contents, joined. */
function ssePayload(buf) {
  return buf
    .toString()
    .split('\r\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6))
    .join('');
}

/** SignalR JSON over Server-Sent Events: a streaming GET receives, POSTs send. */
export const signalrSse = {
  ...signalrJson,
  name: 'signalr-sse',
  async open(ctx, i, conn, sink) {
    const local = ctx.src(i);
    const token = await negotiate(ctx, local);
    const session = new HttpSession(ctx, `${ctx.path}?id=${token}`, local, conn, '');
    return new Promise((resolve, reject) => {
      let shaken = false;
      let rest = null;
      const timer = setTimeout(() => fail(new Error('handshake timeout')), TIMEOUT_MS);
      function fail(e) {
        clearTimeout(timer);
        conn.closed = true;
        if (!shaken) {
          session.terminate();
          reject(e);
        }
      }
      const req = http.request(
        {
          host: '127.0.0.1',
          port: ctx.port,
          path: session.path,
          method: 'GET',
          agent: agentFor(local),
          headers: { Accept: 'text/event-stream' },
        },
        (res) => {
          if (res.statusCode !== 200) return fail(new Error(`SSE GET ${res.statusCode}`));
          res.on('data', (chunk) => {
            // Whole records only: keep what follows the last record separator for later.
            const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
            const last = buf.lastIndexOf(0x1e);
            if (last === -1) {
              rest = buf;
              return;
            }
            rest = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : null;
            const done = buf.subarray(0, last + 1);
            if (!shaken) {
              const text = ssePayload(done);
              if (!text.startsWith('{}\x1e')) return fail(new Error(`handshake: ${text.slice(0, 200)}`));
              shaken = true;
              clearTimeout(timer);
              resolve(session);
              signalrJson.classify(done.subarray(done.indexOf(0x1e) + 1), conn, sink.current);
              return;
            }
            if (conn.capture) conn.capture.push(ssePayload(done));
            signalrJson.classify(done, conn, sink.current);
          });
          res.on('close', () => fail(new Error('event stream closed')));
          session.send(JSON_HANDSHAKE);
        },
      );
      req.on('error', fail);
      session.inflight.add(req);
      req.end();
    });
  },
};

/**
 * A poll loop: GET after GET until the server answers 204 or the connection is terminated;
 * each 200 body goes to `onBody`. Polls time out after the server's 90 s poll timeout + margin.
 */
function pollLoop(session, conn, onBody) {
  (async () => {
    while (!session.stopped) {
      let r;
      try {
        r = await session.request('GET', { timeoutMs: 120000 });
      } catch (e) {
        if (!session.stopped) conn.closedByServer = String(e.message);
        conn.closed = true;
        return;
      }
      if (r.status !== 200) {
        conn.closed = true;
        if (r.status !== 204) conn.closedByServer = `poll ${r.status}`;
        return;
      }
      if (r.body.length) onBody(r.body);
    }
  })();
}

/** SignalR JSON over long polling: the first GET starts the connection, then a poll loop. */
export const signalrLongPolling = {
  ...signalrJson,
  name: 'signalr-lp',
  async open(ctx, i, conn, sink) {
    const local = ctx.src(i);
    const token = await negotiate(ctx, local);
    const session = new HttpSession(ctx, `${ctx.path}?id=${token}`, local, conn, '');
    const first = await session.request('GET');
    if (first.status !== 200) throw new Error(`first poll ${first.status}`);
    const posted = await session.request('POST', { body: JSON_HANDSHAKE });
    if (posted.status !== 200) throw new Error(`handshake POST ${posted.status}`);
    return new Promise((resolve, reject) => {
      let shaken = false;
      const timer = setTimeout(() => {
        session.terminate();
        reject(new Error('handshake timeout'));
      }, TIMEOUT_MS);
      pollLoop(session, conn, (body) => {
        if (!shaken) {
          const end = body.indexOf(0x1e);
          if (body.toString('utf8', 0, end) !== '{}') {
            clearTimeout(timer);
            session.terminate();
            return reject(new Error(`handshake: ${body.toString().slice(0, 200)}`));
          }
          shaken = true;
          clearTimeout(timer);
          resolve(session);
          body = body.subarray(end + 1);
        } else if (conn.capture) conn.capture.push(Buffer.from(body));
        signalrJson.classify(body, conn, sink.current);
      });
    });
  },
};

/** Socket.IO 4 over Engine.IO 4 long polling (packets in a payload separated by 0x1E). */
export const socketioPolling = {
  ...socketio,
  name: 'socketio-lp',
  async open(ctx, i, conn, sink) {
    const local = ctx.src(i);
    const base = `${ctx.path}/?EIO=4&transport=polling`;
    const hello = await request(ctx, 'GET', base, local);
    const text = hello.body.toString();
    if (hello.status !== 200 || text[0] !== '0') throw new Error(`engine.io open: ${text.slice(0, 200)}`);
    const { sid } = JSON.parse(text.slice(1));
    const session = new HttpSession(ctx, `${base}&sid=${sid}`, local, conn, '\x1e');
    const joined = await session.request('POST', { body: '40' });
    if (joined.status !== 200) throw new Error(`socket.io connect POST ${joined.status}`);
    return new Promise((resolve, reject) => {
      let shaken = false;
      const timer = setTimeout(() => {
        session.terminate();
        reject(new Error('handshake timeout'));
      }, TIMEOUT_MS);
      pollLoop(session, conn, (body) => {
        let start = 0;
        while (start < body.length) {
          let end = body.indexOf(0x1e, start);
          if (end === -1) end = body.length;
          const packet = body.subarray(start, end);
          start = end + 1;
          if (!shaken) {
            if (packet[0] === 0x34 && packet[1] === 0x30) {
              shaken = true;
              clearTimeout(timer);
              resolve(session);
            } else if (!(packet.length === 1 && packet[0] === 0x32)) {
              clearTimeout(timer);
              session.terminate();
              return reject(new Error(`socket.io handshake: ${packet.toString().slice(0, 200)}`));
            } else session.send('3');
            continue;
          }
          if (conn.capture) conn.capture.push(Buffer.from(packet));
          // A ping ('2') is answered through conn.ws, which is this session.
          socketio.classify(packet, conn, sink.current);
        }
      });
    });
  },
};
