// One load generator process of the 100,000-connection bench (bench/c100k.mjs), driven over IPC.
// It holds its share of idle SignalR JSON WebSocket connections to the conformance server's
// /testhub over raw `ws` (no negotiate: a WebSocket straight to the hub, as `skipNegotiation`),
// each bound to one of the source addresses it is given so that no address pair runs out of
// ports. A ping goes out on every connection `pingEveryMs` after its handshake and after each ping
// (as a SignalR client's keep-alive), so the server's client timeout never fires. Commands:
//   connect {port, path, count, sources, concurrency, timeoutMs}  -> {open, failed, errors, ms, lat}
//   stats                                                          -> counters (closes, pings)
//   expect {token}    arms the broadcast check; posts {evt:'all', at} when every open connection got it
//   fire {token}      connection 0 invokes SendToAll(token); posts {evt:'fired', at}
//   closeAll, exit
// Times sent to the orchestrator are epoch milliseconds with sub-millisecond precision
// (performance.timeOrigin + performance.now()), comparable across the processes of one machine.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const HANDSHAKE = '{"protocol":"json","version":1}\x1e';
const PING = '{"type":6}\x1e';
const epoch = () => performance.timeOrigin + performance.now();

/** Every open connection; `closed[i]` once it closed, `got[i]` once it received the broadcast. */
const socks = [];
let closed = new Uint8Array(0);
let got = new Uint8Array(0);
const st = {
  closes: 0,
  closesAfterOpen: 0,
  closeCodes: {},
  closeMessages: 0,
  closeSample: null,
  pingsSent: 0,
  serverPings: 0,
  framesIn: 0,
  delivered: 0,
  duplicates: 0,
  completion: null,
};
let pingEveryMs = 15000;
let token = null;
let reportedAll = false;
let firedAt = null;

function post(m) {
  process.send?.(m);
}

/**
 * Pings every connection `pingEveryMs` after its handshake and then after each ping, as a SignalR
 * client does. Every connection has the same interval, so one FIFO of (index, due time) in order of
 * due time serves them all: each tick pings the entries that fell due and queues them again. (A
 * round robin over the growing array took up to two intervals for its first pass while connections
 * were being opened, long enough for the server's client timeout to close the first ones.)
 */
const dueIdx = [];
const dueAt = [];
let dueHead = 0;

/** Queues connection `i` for its next ping. */
function schedulePing(i, now) {
  dueIdx.push(i);
  dueAt.push(now + pingEveryMs);
}

setInterval(() => {
  const now = performance.now();
  while (dueHead < dueIdx.length && dueAt[dueHead] <= now) {
    const i = dueIdx[dueHead++];
    const ws = socks[i];
    if (ws === undefined || closed[i]) continue; // closed, or every socket dropped by closeAll
    ws.send(PING);
    st.pingsSent++;
    schedulePing(i, now);
  }
  if (dueHead > 65536) {
    dueIdx.splice(0, dueHead);
    dueAt.splice(0, dueHead);
    dueHead = 0;
  }
}, 100).unref();

/** Counts the records of one frame from the server (after the handshake). */
function onFrame(i, buf) {
  st.framesIn++;
  const s = buf.toString();
  if (s.includes('"type":6')) st.serverPings++;
  if (s.includes('"type":7')) {
    st.closeMessages++;
    st.closeSample ??= s.slice(0, 200);
  }
  if (s.includes('"type":3')) st.completion = s.slice(0, 200);
  if (token !== null && s.includes('"target":"Send"') && s.includes(token)) {
    if (got[i]) st.duplicates++;
    else {
      got[i] = 1;
      st.delivered++;
      checkAll();
    }
  }
}

function checkAll() {
  if (reportedAll || token === null) return;
  let live = 0;
  for (let i = 0; i < socks.length; i++) if (!closed[i]) live++;
  if (st.delivered >= live) {
    reportedAll = true;
    post({ evt: 'all', at: epoch(), delivered: st.delivered, live });
  }
}

/** Opens one connection from `localAddress`; resolves to [its index, its handshake time in ms]. */
function openOne(url, localAddress) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: 60000,
      localAddress,
    });
    let idx = -1;
    const timer = setTimeout(() => fail(new Error('handshake timeout')), 60000);
    function fail(e) {
      if (idx >= 0) return;
      idx = -2;
      clearTimeout(timer);
      ws.terminate();
      reject(e);
    }
    ws.on('error', (e) => {
      if (idx < 0) fail(e);
    });
    ws.on('open', () => ws.send(HANDSHAKE));
    ws.on('close', (code) => {
      if (idx < 0) return fail(new Error(`closed during handshake (${code})`));
      if (closed[idx]) return;
      closed[idx] = 1;
      st.closesAfterOpen++;
      st.closeCodes[code] = (st.closeCodes[code] ?? 0) + 1;
      checkAll();
    });
    ws.on('message', (buf) => {
      if (idx >= 0) return onFrame(idx, buf);
      if (idx === -2) return;
      const s = buf.toString();
      if (!s.startsWith('{}\x1e')) return fail(new Error(`handshake: ${s.slice(0, 120)}`));
      clearTimeout(timer);
      idx = socks.length;
      socks.push(ws);
      schedulePing(idx, performance.now());
      resolve([idx, performance.now() - t0]);
      // A frame may carry more records after the handshake answer.
      if (s.length > 3) onFrame(idx, Buffer.from(s.slice(3)));
    });
  });
}

async function connect({ port, path = '/testhub', count, sources, concurrency = 50, timeoutMs = 600000 }) {
  closed = new Uint8Array(count);
  got = new Uint8Array(count);
  const url = `ws://127.0.0.1:${port}${path}`;
  const lat = new Float64Array(count);
  const t0 = performance.now();
  const deadline = t0 + timeoutMs;
  let started = 0;
  let failed = 0;
  const errors = new Map();
  const worker = async () => {
    // Started minus failed is open plus in flight.
    while (started - failed < count && performance.now() < deadline) {
      if (failed > 1000) return;
      const k = started++;
      try {
        const [i, ms] = await openOne(url, sources[k % sources.length]);
        lat[i] = ms;
      } catch (e) {
        failed++;
        const key = String(e.message ?? e).slice(0, 120);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    open: socks.length,
    failed,
    errors: Object.fromEntries(errors),
    ms: performance.now() - t0,
    startedAt: performance.timeOrigin + t0,
    lat: Array.from(lat.subarray(0, socks.length)),
  };
}

function stats() {
  let live = 0;
  for (let i = 0; i < socks.length; i++) if (!closed[i]) live++;
  return { open: socks.length, live, ...st };
}

function expect(m) {
  token = m.token;
  reportedAll = false;
  st.delivered = 0;
  st.duplicates = 0;
  got.fill(0);
  return { armed: true };
}

function fire(m) {
  const live = socks.findIndex((_, i) => !closed[i]);
  if (live < 0) return { error: 'no open connection to send from' };
  firedAt = epoch();
  socks[live].send(`{"type":1,"invocationId":"c100k","target":"SendToAll","arguments":["${m.token}"]}\x1e`);
  return { firedAt, from: live };
}

function closeAll() {
  for (const ws of socks) ws.terminate();
  const n = socks.length;
  socks.length = 0;
  return { closed: n };
}

const handlers = { connect, stats, expect, fire, closeAll };

process.on('message', async (m) => {
  if (m.cmd === 'exit') process.exit(0);
  if (m.cmd === 'setPing') {
    pingEveryMs = m.pingEveryMs;
    return;
  }
  const h = handlers[m.cmd];
  try {
    const result = h ? await h(m) : { error: `unknown command ${m.cmd}` };
    post({ evt: 'result', cmd: m.cmd, result });
  } catch (e) {
    post({ evt: 'result', cmd: m.cmd, result: { error: String(e.stack ?? e) } });
  }
});
process.on('disconnect', () => process.exit(0));
post({ evt: 'ready', pid: process.pid });
