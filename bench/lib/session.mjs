// One session of one peer: fresh server process(es) and a fresh load generator, N clients, the
// session's steps in order. Measured steps snapshot CPU time (every server node, the generator,
// the machine, and the backplane: the harness's redis-server or the session's PostgreSQL
// backends) at the generator's window start and again at its result.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropPostgresSchema, postgresBackendPids, startNats, startRedis } from './backplanes.mjs';
import {
  machineCpuUs,
  procCpuPartsUs,
  procCpuUs,
  procRss,
  procRssByKind,
  spawnNode,
  startPerf,
  stopChild,
  waitMessage,
} from './proc.mjs';
import { PAYLOAD, PEERS } from './scenarios.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

const CONTENDED = 0.3;

/**
 * The harness's environment: cores, perf, quiet-wait and retry policy, and the backplanes
 * (a private redis-server started on first use; `close()` stops it).
 */
export function createHarness({ cores, perf, quietWaitMs, retries, postgresUrl, runId }) {
  let redis = null;
  let nats = null;
  let sessionNo = 0;
  let nodeTag = '';
  const h = {
    get nodeTag() {
      return nodeTag;
    },
    cores,
    perf,
    quietWaitMs,
    retries,
    get redis() {
      return redis;
    },
    get nats() {
      return nats;
    },
    postgresUrl,
    /** Server arguments joining `peer`'s backplane under a key prefix of its own. */
    async backplaneArgs(peer) {
      const prefix = `bench:${runId}:${++sessionNo}:`;
      // Node ids name the session too, so that its PostgreSQL backends can be told apart.
      nodeTag = `bench-${runId}-${sessionNo}-`;
      if (peer.backplane === 'redis') {
        redis ??= await startRedis(cores.server);
        return { prefix, args: ['--redis', redis.url, '--prefix', prefix] };
      }
      if (peer.backplane === 'postgres')
        return { prefix, args: ['--postgres', postgresUrl, '--prefix', prefix] };
      if (peer.backplane === 'nats') {
        nats ??= await startNats(cores.server);
        return { prefix, args: ['--nats', nats.url, '--prefix', prefix] };
      }
      return { prefix: null, args: [] };
    },
    async close() {
      await redis?.stop();
      redis = null;
      await nats?.stop();
      nats = null;
    },
  };
  return h;
}

/** Starts a peer: one server, or `nodes` servers joined by the peer's backplane. */
export async function startServer(h, peerName) {
  const peer = PEERS[peerName];
  const { prefix, args: extra } = await h.backplaneArgs(peer);
  const nodes = [];
  try {
    for (let k = 0; k < (peer.nodes ?? 1); k++) {
      const child = spawnNode(join(here, peer.script), {
        core: h.cores.server,
        env: peer.env,
        nodeArgs: ['--expose-gc'],
        args: [
          ...(peer.args ?? []),
          ...extra,
          // The ws pair on PostgreSQL names its connections as Switchboard's nodes do.
          ...(peer.backplane && (peer.script.endsWith('switchboard.mjs') || peer.backplane === 'postgres')
            ? ['--node-id', `${h.nodeTag}n${k}`]
            : []),
        ],
      });
      nodes.push({ child });
      const ready = await waitMessage(child, (m) => m.evt === 'ready', 15000, `${peerName} server`);
      Object.assign(nodes[k], { pid: ready.pid, port: ready.port });
    }
  } catch (e) {
    await stopServer({ h, nodes, backplane: peer.backplane, prefix });
    throw e;
  }
  const backplane = peer.backplane ?? null;
  const nodeTag = h.nodeTag;
  return {
    h,
    nodes,
    pids: nodes.map((n) => n.pid),
    ports: nodes.map((n) => n.port),
    backplane,
    prefix,
    nodeTag,
  };
}

/** Stops every node; a PostgreSQL cluster's schema is dropped afterwards (a cleanup failure is logged). */
export async function stopServer(srv) {
  for (const n of srv.nodes) await stopChild(n.child);
  if (srv.backplane === 'postgres') {
    const err = await dropPostgresSchema(srv.h.postgresUrl, srv.prefix);
    if (err) log(`  could not drop the schema of ${srv.prefix}: ${err}`);
  }
}

async function startLoadgen(h) {
  const child = spawnNode(join(here, 'loadgen.mjs'), { core: h.cores.loadgen });
  const ready = await waitMessage(child, (m) => m.evt === 'ready', 15000, 'load generator');
  return { child, pid: ready.pid };
}

async function call(lg, msg, timeoutMs = 300000) {
  lg.child.send(msg);
  const m = await waitMessage(lg.child, (x) => x.evt === 'result' && x.cmd === msg.cmd, timeoutMs, msg.cmd);
  if (m.result.error) throw new Error(`${msg.cmd}: ${m.result.error}`);
  return m.result;
}

/** RSS (summed over the nodes) after a full GC in each, plus V8 heap figures. */
async function serverRss(srv) {
  let rss = 0;
  let heapUsed = 0;
  let external = 0;
  /** Where the memory is, summed over the nodes: V8's heap by space, malloc'd by V8, RSS by mapping. */
  const parts = {};
  const add = (k, v) => {
    if (typeof v === 'number') parts[k] = (parts[k] ?? 0) + v;
  };
  for (const n of srv.nodes) {
    n.child.send({ cmd: 'gc' });
    const m = await waitMessage(n.child, (x) => x.evt === 'gc', 15000, 'gc');
    heapUsed += m.mem.heapUsed;
    external += m.mem.external;
    add('heapCommitted', m.mem.heapCommitted);
    add('malloced', m.mem.malloced);
    add('arrayBuffers', m.mem.arrayBuffers);
    for (const [space, size] of Object.entries(m.mem.spaces ?? {})) add(space, size);
  }
  await sleep(300);
  for (const n of srv.nodes) {
    rss += procRss(n.pid);
    for (const [kind, size] of Object.entries(procRssByKind(n.pid) ?? {})) add(`rss_${kind}`, size);
  }
  return { rss, heapUsed, external, parts };
}

/** CPU time of the processes, µs: all of it, and the system (kernel) part of it. */
function cpuOf(pids) {
  let all = 0;
  let sys = 0;
  for (const pid of pids) {
    const parts = procCpuPartsUs(pid);
    all += parts.user + parts.sys;
    sys += parts.sys;
  }
  return { all, sys };
}

/**
 * CPU time of the backplane, per process: the harness's redis-server, or the PostgreSQL backends
 * of this session's nodes (found by application_name). Null when there is none to read.
 */
async function backplaneCpu(h, srv) {
  let pids = [];
  if (srv.backplane === 'redis' && h.redis?.pid) pids = [h.redis.pid];
  else if (srv.backplane === 'nats' && h.nats?.pid) pids = [h.nats.pid];
  else if (srv.backplane === 'postgres')
    pids = await postgresBackendPids(h.postgresUrl, `switchboard:${srv.nodeTag}`);
  if (!pids.length) return null;
  const m = new Map();
  for (const p of pids) {
    try {
      m.set(p, procCpuUs(p));
    } catch {
      // The process is gone, or /proc does not show it (PostgreSQL on another host).
    }
  }
  return m.size ? m : null;
}

/** CPU used between two snapshots; a process that appeared in between counts from zero. */
function backplaneDelta(a, b) {
  let d = 0;
  for (const [p, v] of b) d += v - (a.get(p) ?? 0);
  return d;
}

/** Waits (at most quietWaitMs) until other processes use under 15 % of a core over 500 ms. */
async function waitQuiet(h) {
  const t0 = Date.now();
  for (;;) {
    const a = machineCpuUs().busy;
    await sleep(500);
    const other = (machineCpuUs().busy - a) / 500000;
    if (other < 0.15 || Date.now() - t0 > h.quietWaitMs) return { waitedMs: Date.now() - t0, other };
  }
}

/** Runs one measured command: snapshot CPU at the generator's window-start, again at its result. */
async function measured(h, lg, srv, msg, timeoutMs) {
  lg.child.send(msg);
  const first = await waitMessage(
    lg.child,
    (x) => x.evt === 'window-start' || (x.evt === 'result' && x.cmd === msg.cmd),
    timeoutMs,
    `${msg.cmd} warm-up`,
  );
  if (first.evt === 'result') throw new Error(`${msg.cmd}: ${first.result.error ?? 'ended before window'}`);
  const p = h.perf.ok && srv.pids.length === 1 ? startPerf(srv.pids[0]) : null;
  if (p) await sleep(250);
  const b0 = await backplaneCpu(h, srv);
  const { all: s0, sys: k0 } = cpuOf(srv.pids);
  const l0 = procCpuUs(lg.pid);
  const m0 = machineCpuUs();
  lg.child.send({ cmd: 'go' });
  const done = await waitMessage(
    lg.child,
    (x) => x.evt === 'result' && x.cmd === msg.cmd,
    timeoutMs,
    msg.cmd,
  );
  const { all: s1, sys: k1 } = cpuOf(srv.pids);
  const l1 = procCpuUs(lg.pid);
  const m1 = machineCpuUs();
  const instructions = p ? await p.stop() : null;
  const r = done.result;
  if (r.error) throw new Error(`${msg.cmd}: ${r.error}`);
  const msgs = r.msgs || 0;
  const b1 = await backplaneCpu(h, srv);
  const backplaneCpuUs = b0 && b1 ? backplaneDelta(b0, b1) : null;
  // Busy time of all cores not charged to server(s), generator or the backplane: softirq work
  // plus whatever else ran on the machine (a shared box: other builds and tests show up here).
  const otherCpuUs = m1.busy - m0.busy - (s1 - s0) - (l1 - l0) - (backplaneCpuUs ?? 0);
  return {
    ...r,
    nodes: srv.pids.length,
    serverCpuUs: s1 - s0,
    loadgenCpuUs: l1 - l0,
    backplaneCpuUs,
    otherCpuUs,
    softirqUs: m1.softirq - m0.softirq,
    otherShare: r.wallMs ? otherCpuUs / (r.wallMs * 1000) : null,
    serverUsPerMsg: msgs ? (s1 - s0) / msgs : null,
    // Of which in the kernel (syscalls, TCP over loopback); the rest is the process's own work.
    serverSysUsPerMsg: msgs ? (k1 - k0) / msgs : null,
    serverCoreShare: r.wallMs ? (s1 - s0) / (r.wallMs * 1000) : null,
    loadgenUsPerMsg: msgs ? (l1 - l0) / msgs : null,
    backplaneUsPerMsg: msgs && backplaneCpuUs !== null ? backplaneCpuUs / msgs : null,
    instructionsPerMsg: instructions !== null && msgs ? instructions / msgs : null,
    ratePerSec: r.wallMs ? msgs / (r.wallMs / 1000) : null,
  };
}

/**
 * RSS once the server has settled: readings (each after a full GC) every 2 s until one is within
 * 1 % of the one before, at least 8 s in (V8's memory reducer shrinks the young generation grown
 * by a burst a few seconds after allocation calms down), at most 30 s.
 */
async function settledRss(srv) {
  const t0 = Date.now();
  let last = await serverRss(srv);
  for (;;) {
    await sleep(2000);
    const m = await serverRss(srv);
    const waited = Date.now() - t0;
    const stable = Math.abs(m.rss - last.rss) <= 0.01 * last.rss;
    last = m;
    if ((stable && waited >= 8000) || waited >= 30000) return { ...m, settleMs: waited };
  }
}

/** Runs `session` for `peerName`; `record(scenario, result)` receives every step's figures. */
export async function runSession(h, peerName, session, record) {
  const srv = await startServer(h, peerName);
  const lg = await startLoadgen(h);
  try {
    const rss0 = await serverRss(srv);
    // The settled baseline: code compiled and caches filled by a warm-up, then idle until settled.
    let settled0 = null;
    const sources = session.connections > 25000 ? Math.ceil(session.connections / 25000) + 1 : 0;
    const protocol = PEERS[peerName].protocol;
    await call(lg, { cmd: 'setup', peer: protocol, port: srv.ports[0], ports: srv.ports, sources });
    if (session.warmup) {
      await call(lg, { cmd: 'connect', target: session.warmup, concurrency: 100, timeoutMs: 60000 }, 90000);
      await call(lg, { cmd: 'closeAll' }, 60000);
      settled0 = await settledRss(srv);
    }
    if (session.connections) {
      const timeoutMs = session.connectTimeoutMs ?? 120000;
      const c = await call(
        lg,
        { cmd: 'connect', target: session.connections, concurrency: 100, timeoutMs },
        timeoutMs + 30000,
      );
      if (c.open < session.connections)
        throw new Error(`connected ${c.open}/${session.connections}: ${c.errors}`);
      log(`  ${peerName}: ${c.open} connections in ${(c.ms / 1000).toFixed(1)} s`);
      await call(lg, { cmd: 'verify', payload: PAYLOAD }, 60000);
    }
    for (const step of session.steps) {
      let r;
      if (step.type === 'rss') {
        // Right after connecting (1 s) against the fresh server, or settled against the settled
        // baseline of the warm-up (`settle`, sessions with `warmup`).
        const base = step.settle ? settled0 : rss0;
        if (!base) throw new Error(`${step.scenario}: a settled reading needs the session's warmup`);
        let m;
        if (step.settle) m = await settledRss(srv);
        else {
          await sleep(1000);
          m = await serverRss(srv);
        }
        const n = session.connections;
        r = {
          connections: n,
          nodes: srv.pids.length,
          rss: m.rss,
          rssPerConn: (m.rss - base.rss) / n,
          heapPerConn: (m.heapUsed - base.heapUsed) / n,
          // Bytes per connection by part, against the same baseline (what the RSS is made of).
          partsPerConn: Object.fromEntries(
            Object.entries(m.parts).map(([k, v]) => [k, Math.round((v - (base.parts[k] ?? 0)) / n)]),
          ),
          ...(step.settle ? { settleMs: m.settleMs, baselineSettleMs: base.settleMs } : {}),
        };
      } else {
        const { scenario: _s, type, ...args } = step;
        const timeoutMs = Math.max(300000, (args.durationMs ?? 0) + 120000);
        // This machine is shared: wait for a quiet moment, and measure again (bounded) when
        // other work took more than CONTENDED of a core during the window. Storms and idle
        // periods are not repeated (storm connections stay open; an idle period is long).
        for (let attempt = 1; ; attempt++) {
          const quiet = await waitQuiet(h);
          r = await measured(h, lg, srv, { cmd: type, payload: PAYLOAD, ...args }, timeoutMs);
          r.attempt = attempt;
          r.quietWaitMs = quiet.waitedMs;
          r.contended = r.otherShare > CONTENDED;
          if (!r.contended || attempt > h.retries || type === 'storm' || type === 'idle') break;
          log(
            `  ${peerName} ${step.scenario}: other load ${(100 * r.otherShare).toFixed(0)} % of a core, again`,
          );
        }
        if (type === 'idle') {
          const m = await serverRss(srv);
          r.rss = m.rss;
        }
      }
      record(step.scenario, r);
      log(`  ${peerName} ${step.scenario}: ${brief(r)}`);
    }
  } finally {
    await call(lg, { cmd: 'closeAll' }, 60000).catch(() => {});
    await stopChild(lg.child);
    await stopServer(srv);
  }
}

function brief(r) {
  if (r.rssPerConn !== undefined) return `${(r.rssPerConn / 1024).toFixed(1)} KiB/conn RSS`;
  const bits = [`${r.serverUsPerMsg?.toFixed(2)} µs server CPU/msg`, `${Math.round(r.ratePerSec)} msg/s`];
  bits.push(`gen ${r.loadgenUsPerMsg?.toFixed(2)} µs/msg`);
  if (r.backplaneUsPerMsg !== null && r.backplaneUsPerMsg !== undefined)
    bits.push(`backplane ${r.backplaneUsPerMsg.toFixed(2)} µs/msg`);
  if (r.timeouts !== undefined) bits.push(`timeouts ${r.timeouts}, pings ${r.pings}`);
  if (r.lost || r.dup || r.errors || r.failed || r.closed)
    bits.push(`lost ${r.lost ?? 0} dup ${r.dup ?? 0} closed ${r.closed ?? 0} err ${r.errors ?? r.failed}`);
  return bits.join(', ');
}
