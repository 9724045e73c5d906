// Load generator: one process, driven over IPC by run.mjs, holding every client connection.
// Commands: setup, connect, verify, echo, fanout (broadcast or group), idle, storm, closeAll, exit. A measured
// command first runs its warm-up, then posts {evt:'window-start'} and waits for {cmd:'go'} so
// the orchestrator can snapshot the server's CPU time at a quiet moment; it ends with
// {evt:'result'}. Every loop is bounded by a count and by a deadline.
import { performance } from 'node:perf_hooks';
import { adapters, closeAllAgents } from './lib/adapters.mjs';

const now = () => performance.now();
const conns = [];
const sink = { current: { d() {}, c() {} } };
let ctx = null;
let adapter = null;
let goResolve = null;

function send(m) {
  process.send(m);
}

/**
 * With `sources` > 0, source addresses 127.0.0.1..N rotate so that more than ~28k connections
 * do not run out of ephemeral ports. Off by default: binding a source address makes the kernel
 * pick the port at bind() time, without the destination, which gets slow when many ports are in
 * TIME_WAIT, whereas a plain connect() may reuse them (tcp_tw_reuse = 2 on loopback).
 */
function setup({ peer, port, ports, path, sources = 0, skipNegotiation = false }) {
  adapter = adapters[peer];
  if (!adapter) throw new Error(`unknown protocol ${peer}`);
  const src = sources > 0 ? (i) => `127.0.0.${1 + (i % sources)}` : () => undefined;
  // Several ports: the nodes of a cluster; connection i goes to node i mod nodes.
  ctx = { port, ports: ports ?? [port], path: path ?? adapter.path, skipNegotiation, src };
}

let seq = 0;

/** Opens and handshakes one connection and appends it to `conns` (its index is `conn.i`). */
async function openOne(storm = false) {
  const conn = { i: -1, ws: null, n: 0, out: 0, t: 0, closed: false, closedByServer: null };
  const i = seq++;
  const node = ctx.ports.length > 1 ? { ...ctx, port: ctx.ports[i % ctx.ports.length] } : ctx;
  conn.node = i % ctx.ports.length;
  // In the storm a peer whose connect has no negotiate of its own (raw `ws`) does one anyway, so
  // that both sides make the same two exchanges (a small POST, then the upgrade).
  if (storm && adapter.stormPrelude) await adapter.stormPrelude(node, i);
  conn.ws = await adapter.open(node, i, conn, sink);
  conn.i = conns.length;
  conns.push(conn);
  return conn;
}

/** Opens connections until `target` are open; `concurrency` handshakes in flight. */
async function connect({ target, concurrency = 100, timeoutMs = 120000 }) {
  const t0 = now();
  const deadline = t0 + timeoutMs;
  let inflight = 0;
  let failed = 0;
  const errors = new Set();
  async function worker() {
    while (conns.length + inflight < target && now() < deadline && failed < 100) {
      inflight++;
      try {
        await openOne();
      } catch (e) {
        failed++;
        if (errors.size < 5) errors.add(String(e.message ?? e));
      } finally {
        inflight--;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { open: conns.length, failed, errors: [...errors], ms: now() - t0 };
}

async function window() {
  send({ evt: 'window-start' });
  await new Promise((resolve) => {
    goResolve = resolve;
  });
}

function percentiles(samples) {
  if (!samples.length) return { p50: null, p99: null };
  const s = Float64Array.from(samples).sort();
  return { p50: s[Math.floor(s.length * 0.5)], p99: s[Math.floor(s.length * 0.99)] };
}

/** Closed-loop echo: each of `clients` connections keeps one invocation in flight. */
async function echo({ clients, payload, warmupMs, durationMs, maxCount }) {
  const sel = conns.slice(0, clients);
  let id = 0;
  const run = (ms, limit) =>
    new Promise((resolve) => {
      const stopAt = now() + ms;
      let count = 0;
      let errors = 0;
      let outstanding = 0;
      let stopped = false;
      const lat = [];
      const fire = (c) => {
        c.out++;
        outstanding++;
        c.t = now();
        c.ws.send(adapter.echo(id++, payload));
      };
      sink.current = {
        d() {},
        c(c, n, errs) {
          c.out -= n;
          outstanding -= n;
          count += n;
          errors += errs;
          const t = now();
          if (lat.length < 200000) lat.push((t - c.t) * 1000);
          if (!stopped && (count >= limit || t >= stopAt)) stopped = true;
          if (!stopped) fire(c);
          else if (outstanding <= 0) finish();
        },
      };
      const guard = setTimeout(finish, ms + 10000);
      function finish() {
        clearTimeout(guard);
        sink.current = { d() {}, c() {} };
        resolve({ msgs: count, errors, lost: outstanding, ...percentiles(lat) });
      }
      for (const c of sel) fire(c);
    });
  await run(warmupMs, Number.POSITIVE_INFINITY);
  await window();
  const t0 = now();
  const r = await run(durationMs, maxCount);
  return { ...r, wallMs: now() - t0, clients: sel.length };
}

/**
 * Fan-out: conns[0] sends `count` messages; each reaches `perMsg` receivers. At most `window`
 * messages are in flight (sent but not yet fully delivered). Every receiver is checked for
 * exactly its expected number of deliveries.
 */
function fanoutRun({ count, perMsg, windowMsgs, timeoutMs, frame }) {
  return new Promise((resolve) => {
    const sender = conns[0].ws;
    const target = count * perMsg;
    const inflightMax = windowMsgs * perMsg;
    let sent = 0;
    let delivered = 0;
    let finished = false;
    if (count === 0) return resolve({ sent: 0, delivered: 0 });
    const pump = () => {
      while (sent < count && sent * perMsg - delivered < inflightMax) sender.send(frame(sent++));
    };
    sink.current = {
      d(c, n) {
        c.n += n;
        delivered += n;
        if (delivered >= target) finish();
        else if (sent < count && sent * perMsg - delivered < inflightMax) pump();
      },
      c() {},
    };
    const guard = setTimeout(finish, timeoutMs);
    function finish() {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      // Give stragglers (duplicates) a moment to show up before the per-receiver check.
      setTimeout(() => {
        sink.current = { d() {}, c() {} };
        resolve({ sent, delivered });
      }, 50);
    }
    pump();
  });
}

function checkReceivers(expected) {
  let lost = 0;
  let dup = 0;
  let closed = 0;
  let closedReason = null;
  for (const c of conns) {
    const e = expected(c);
    if (c.n < e) lost += e - c.n;
    else if (c.n > e) dup += c.n - e;
    if (c.closed) {
      closed++;
      closedReason ??= c.closedByServer;
    }
    c.n = 0;
  }
  return { lost, dup, closed, closedReason };
}

async function fanout({ kind, groupSize, payload, count, warmup, windowMsgs, timeoutMs }) {
  const n = conns.length;
  let perMsg = n;
  let groups = 1;
  let frame = () => adapter.broadcast(payload);
  if (kind === 'group') {
    groups = Math.floor(n / groupSize);
    perMsg = groupSize;
    const joined = await joinGroups(groupSize, groups, 30000);
    if (joined.errors || joined.acks < groups * groupSize)
      return { error: `join failed: ${JSON.stringify(joined)}` };
    frame = (k) => adapter.group(`g${k % groups}`, payload);
    // Whole rounds so that every group member expects the same number of messages.
    count = Math.max(1, Math.round(count / groups)) * groups;
    warmup = Math.max(1, Math.round(warmup / groups)) * groups;
  }
  const inGroup = (c) => kind !== 'group' || c.i < groups * groupSize;
  await fanoutRun({ count: warmup, perMsg, windowMsgs, timeoutMs, frame });
  const w = checkReceivers((c) => (inGroup(c) ? warmup / groups : 0));
  await window();
  const t0 = now();
  const r = await fanoutRun({ count, perMsg, windowMsgs, timeoutMs, frame });
  const wallMs = now() - t0;
  const chk = checkReceivers((c) => (inGroup(c) ? count / groups : 0));
  return {
    msgs: r.delivered,
    sent: r.sent,
    expected: count * perMsg,
    wallMs,
    ...chk,
    warmupLost: w.lost,
    receivers: n,
  };
}

/** Connection i joins group g(i / size); waits for every join's completion. */
function joinGroups(size, groups, timeoutMs) {
  return new Promise((resolve) => {
    const total = size * groups;
    let acks = 0;
    let errors = 0;
    const guard = setTimeout(() => done(), timeoutMs);
    function done() {
      clearTimeout(guard);
      sink.current = { d() {}, c() {} };
      resolve({ acks, errors });
    }
    sink.current = {
      d() {},
      c(_c, n, errs) {
        acks += n;
        errors += errs;
        if (acks >= total) done();
      },
    };
    for (let i = 0; i < total; i++) conns[i].ws.send(adapter.join(i, `g${Math.floor(i / size)}`));
  });
}

/** Connection storm: negotiate + upgrade + handshake as fast as `concurrency` allows (raw `ws`: POST + upgrade). */
async function storm({ count, concurrency, durationMs }) {
  await window();
  const t0 = now();
  const deadline = t0 + durationMs;
  let started = 0;
  let ok = 0;
  let failed = 0;
  const lat = [];
  const errors = new Set();
  async function worker() {
    while (started < count && now() < deadline) {
      started++;
      const t = now();
      try {
        await openOne(true);
        ok++;
        lat.push((now() - t) * 1000);
      } catch (e) {
        failed++;
        if (errors.size < 5) errors.add(String(e.message ?? e));
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = now() - t0;
  return { msgs: ok, failed, wallMs, errorSamples: [...errors], ...percentiles(lat) };
}

/**
 * One echo and one broadcast on connection 0, checked field by field (not just counted); on a
 * cluster the broadcast is also checked at a connection of another node.
 */
async function verify({ payload }) {
  const c = conns[0];
  const far = conns.find((x) => x.node !== c.node);
  c.capture = [];
  if (far) far.capture = [];
  let reached = 0;
  sink.current = {
    d(x, k) {
      x.n += k;
      reached += k;
    },
    c() {},
  };
  c.ws.send(adapter.echo(0, payload));
  c.ws.send(adapter.broadcast(payload));
  const until = now() + 5000;
  let echo = false;
  let broadcast = false;
  let remote = !far;
  while (now() < until && !(echo && broadcast && remote)) {
    await new Promise((r) => setTimeout(r, 20));
    echo = adapter.verifyEcho(c.capture, payload);
    broadcast = adapter.verifyBroadcast(c.capture, payload);
    if (far) remote = adapter.verifyBroadcast(far.capture, payload);
  }
  const sample = c.capture.slice(0, 3).map(String);
  c.capture = null;
  if (far) far.capture = null;
  // Let the broadcast reach everyone (bounded) before any counting starts.
  const all = now() + 30000;
  while (reached < conns.length && now() < all) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  sink.current = { d() {}, c() {} };
  const missing = conns.filter((x) => x.n < 1).length;
  for (const x of conns) x.n = 0;
  if (missing) return { error: `verify failed: the check broadcast missed ${missing} connection(s)` };
  if (!(echo && broadcast && remote))
    return { error: `verify failed: echo ${echo} broadcast ${broadcast} other node ${remote}: ${sample}` };
  return { echo, broadcast, otherNode: far ? remote : null };
}

/**
 * Idle: nothing but keep-alive for `durationMs`. Where the protocol has a client ping, every
 * connection sends one each `pingEveryMs`, spread evenly over the interval (a connection's first
 * ping also arms the server's client timeout). Connections closed meanwhile count as timeouts. `msgs` is the connection count, so CPU per "message" is per connection.
 */
async function idle({ durationMs, pingEveryMs = 15000 }) {
  const n = conns.length;
  const closedBefore = conns.filter((c) => c.closed).length;
  const frame = adapter.ping?.() ?? null;
  await window();
  const t0 = now();
  let pings = 0;
  let next = 0;
  const TICK = 100;
  const perTick = Math.max(1, Math.ceil((n * TICK) / pingEveryMs));
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (now() - t0 >= durationMs) {
        clearInterval(timer);
        return resolve();
      }
      if (!frame) return;
      for (let k = 0; k < perTick; k++) {
        const c = conns[next];
        next = (next + 1) % n;
        if (!c.closed) {
          c.ws.send(frame);
          pings++;
        }
      }
    }, TICK);
  });
  const closed = conns.filter((c) => c.closed).length - closedBefore;
  const byServer = conns.find((c) => c.closedByServer)?.closedByServer ?? null;
  return {
    msgs: n,
    connections: n,
    wallMs: now() - t0,
    pings,
    timeouts: closed,
    closed,
    closedReason: byServer,
  };
}

function closeAll() {
  for (const c of conns) c.ws.terminate();
  const n = conns.length;
  conns.length = 0;
  closeAllAgents();
  return { closed: n };
}

const handlers = { setup, connect, verify, echo, fanout, idle, storm, closeAll };

process.on('message', async (m) => {
  if (m.cmd === 'go') return goResolve?.();
  if (m.cmd === 'exit') process.exit(0);
  const h = handlers[m.cmd];
  try {
    const result = h ? await h(m) : { error: `unknown command ${m.cmd}` };
    send({ evt: 'result', cmd: m.cmd, result: result ?? {} });
  } catch (e) {
    send({ evt: 'result', cmd: m.cmd, result: { error: String(e.stack ?? e) } });
  }
});
process.on('disconnect', () => process.exit(0));
send({ evt: 'ready', pid: process.pid });
