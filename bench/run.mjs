#!/usr/bin/env node
// Switchboard benchmark harness (issue #8). `npm run bench [-- options]`
//
//   --quick              smoke test (< 2 min): echo, broadcast 1k / 5k, idle RSS; 2 reps
//   --reps N             repetitions, peers interleaved (default 5, quick 2)
//   --peers a,b          subset of ws, socketio, switchboard (default: all that start)
//   --sessions a,b       subset of 1k, 5k, 20k, groups, storm
//   --docs / --no-docs   rewrite docs/benchmarks.md (default: full runs only)
//   --out FILE           result file (default bench/results/<timestamp>[-quick].json)
//   --retries N          repeat a contended window at most N times (default 1)
//   --report FILE        only rewrite docs/benchmarks.md and the chart from a result file
//   --variant N=ENTRY    extra peer switchboard@N importing ENTRY (used by compare.mjs)
//
// Servers run on core 0, the load generator on core 1 (taskset, when present). The headline is
// server CPU time (utime + stime from /proc/<pid>/stat) per delivered message over the measured
// window; instructions per message come from `perf stat` where the kernel supports it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  detectPerf,
  detectPinning,
  fdHardLimit,
  machineCpuUs,
  machineInfo,
  procCpuUs,
  procRss,
  spawnNode,
  startPerf,
  stopChild,
  waitMessage,
} from './lib/proc.mjs';
import { summarize, writeDocs } from './lib/report.mjs';
import { PAYLOAD, PEERS, SCENARIOS, scenarioTitles, sessions } from './lib/scenarios.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    peers: { type: 'string' },
    sessions: { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean', default: false },
    out: { type: 'string' },
    variant: { type: 'string', multiple: true },
    retries: { type: 'string' },
    report: { type: 'string' },
  },
});
// --variant NAME=/path/to/server/dist/index.js adds the peer switchboard@NAME (compare.mjs).
for (const v of opt.variant ?? []) {
  const [name, entry] = v.split('=');
  PEERS[`switchboard@${name}`] = {
    ...PEERS.switchboard,
    label: `Switchboard ${name}`,
    env: { SWITCHBOARD_SERVER_ENTRY: entry },
  };
}
const mode = opt.quick ? 'quick' : 'full';
const reps = Math.max(1, Number(opt.reps ?? (opt.quick ? 2 : 5)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

const pin = detectPinning();
const perf = detectPerf();
const cores = pin.ok ? { server: 0, loadgen: 1 } : { server: null, loadgen: null };
log(`pinning: ${pin.ok ? 'server core 0, load generator core 1' : `off (${pin.why})`}`);
log(`perf instructions: ${perf.ok ? 'yes' : `no (${perf.why})`}`);
// One process holds every connection on each side, so both need a descriptor per connection.
const fdLimit = fdHardLimit();
const maxConns = Math.min(20000, fdLimit - 500);
log(`fd limit for children: ${fdLimit}; largest fan-out: ${maxConns} receivers`);

async function startServer(peerName) {
  const peer = PEERS[peerName];
  const child = spawnNode(join(here, peer.script), {
    core: cores.server,
    env: peer.env,
    nodeArgs: ['--expose-gc'],
  });
  const ready = await waitMessage(child, (m) => m.evt === 'ready', 15000, `${peerName} server`);
  return { child, pid: ready.pid, port: ready.port };
}

async function startLoadgen() {
  const child = spawnNode(join(here, 'loadgen.mjs'), { core: cores.loadgen });
  const ready = await waitMessage(child, (m) => m.evt === 'ready', 15000, 'load generator');
  return { child, pid: ready.pid };
}

async function call(lg, msg, timeoutMs = 300000) {
  lg.child.send(msg);
  const m = await waitMessage(lg.child, (x) => x.evt === 'result' && x.cmd === msg.cmd, timeoutMs, msg.cmd);
  if (m.result.error) throw new Error(`${msg.cmd}: ${m.result.error}`);
  return m.result;
}

async function serverRss(srv) {
  srv.child.send({ cmd: 'gc' });
  const m = await waitMessage(srv.child, (x) => x.evt === 'gc', 15000, 'gc');
  await sleep(300);
  return { rss: procRss(srv.pid), heapUsed: m.mem.heapUsed, external: m.mem.external };
}

const CONTENDED = 0.3;
const MAX_RETRIES = Number(opt.retries ?? 1);
const QUIET_WAIT_MS = 20000;

/** Waits (at most QUIET_WAIT_MS) until other processes use under 15 % of a core over 500 ms. */
async function waitQuiet() {
  const t0 = Date.now();
  for (;;) {
    const a = machineCpuUs().busy;
    await sleep(500);
    const other = (machineCpuUs().busy - a) / 500000;
    if (other < 0.15 || Date.now() - t0 > QUIET_WAIT_MS) return { waitedMs: Date.now() - t0, other };
  }
}

/** Runs one measured command: snapshot CPU at the generator's window-start, again at its result. */
async function measured(lg, srv, msg) {
  lg.child.send(msg);
  const first = await waitMessage(
    lg.child,
    (x) => x.evt === 'window-start' || (x.evt === 'result' && x.cmd === msg.cmd),
    300000,
    `${msg.cmd} warm-up`,
  );
  if (first.evt === 'result') throw new Error(`${msg.cmd}: ${first.result.error ?? 'ended before window'}`);
  const p = perf.ok ? startPerf(srv.pid) : null;
  if (p) await sleep(250);
  const s0 = procCpuUs(srv.pid);
  const l0 = procCpuUs(lg.pid);
  const m0 = machineCpuUs();
  lg.child.send({ cmd: 'go' });
  const done = await waitMessage(lg.child, (x) => x.evt === 'result' && x.cmd === msg.cmd, 300000, msg.cmd);
  const s1 = procCpuUs(srv.pid);
  const l1 = procCpuUs(lg.pid);
  const m1 = machineCpuUs();
  const instructions = p ? await p.stop() : null;
  const r = done.result;
  if (r.error) throw new Error(`${msg.cmd}: ${r.error}`);
  const msgs = r.msgs || 0;
  return {
    ...r,
    serverCpuUs: s1 - s0,
    loadgenCpuUs: l1 - l0,
    // Busy time of all cores not charged to server or generator: softirq work plus whatever
    // else ran on the machine (a shared box: other builds and tests show up here).
    otherCpuUs: m1.busy - m0.busy - (s1 - s0) - (l1 - l0),
    softirqUs: m1.softirq - m0.softirq,
    otherShare: r.wallMs ? (m1.busy - m0.busy - (s1 - s0) - (l1 - l0)) / (r.wallMs * 1000) : null,
    serverUsPerMsg: msgs ? (s1 - s0) / msgs : null,
    loadgenUsPerMsg: msgs ? (l1 - l0) / msgs : null,
    instructionsPerMsg: instructions !== null && msgs ? instructions / msgs : null,
    ratePerSec: r.wallMs ? msgs / (r.wallMs / 1000) : null,
  };
}

async function runSession(peerName, session, record) {
  const srv = await startServer(peerName);
  const lg = await startLoadgen();
  try {
    const rss0 = await serverRss(srv);
    const sources = session.connections > 25000 ? Math.ceil(session.connections / 25000) + 1 : 0;
    await call(lg, { cmd: 'setup', peer: PEERS[peerName].protocol, port: srv.port, sources });
    if (session.connections) {
      const c = await call(lg, { cmd: 'connect', target: session.connections, concurrency: 100 });
      if (c.open < session.connections)
        throw new Error(`connected ${c.open}/${session.connections}: ${c.errors}`);
      log(`  ${peerName}: ${c.open} connections in ${(c.ms / 1000).toFixed(1)} s`);
      await call(lg, { cmd: 'verify', payload: PAYLOAD }, 30000);
    }
    for (const step of session.steps) {
      let r;
      if (step.type === 'rss') {
        await sleep(1000);
        const m = await serverRss(srv);
        const n = session.connections;
        r = {
          connections: n,
          rss: m.rss,
          rssPerConn: (m.rss - rss0.rss) / n,
          heapPerConn: (m.heapUsed - rss0.heapUsed) / n,
        };
      } else {
        const { scenario: _s, type, ...args } = step;
        // This machine is shared: wait for a quiet moment, and measure again (bounded) when
        // other work took more than CONTENDED of a core during the window. Storms are not
        // repeated (their connections stay open).
        for (let attempt = 1; ; attempt++) {
          const quiet = await waitQuiet();
          r = await measured(lg, srv, { cmd: type, payload: PAYLOAD, ...args });
          r.attempt = attempt;
          r.quietWaitMs = quiet.waitedMs;
          r.contended = r.otherShare > CONTENDED;
          if (!r.contended || attempt > MAX_RETRIES || type === 'storm') break;
          log(
            `  ${peerName} ${step.scenario}: other load ${(100 * r.otherShare).toFixed(0)} % of a core, again`,
          );
        }
      }
      record(step.scenario, r);
      log(`  ${peerName} ${step.scenario}: ${brief(r)}`);
    }
  } finally {
    await call(lg, { cmd: 'closeAll' }, 30000).catch(() => {});
    await stopChild(lg.child);
    await stopChild(srv.child);
  }
}

function brief(r) {
  if (r.rssPerConn !== undefined) return `${(r.rssPerConn / 1024).toFixed(1)} KiB/conn RSS`;
  const bits = [`${r.serverUsPerMsg?.toFixed(2)} µs server CPU/msg`, `${Math.round(r.ratePerSec)} msg/s`];
  bits.push(`gen ${r.loadgenUsPerMsg?.toFixed(2)} µs/msg`);
  if (r.lost || r.dup || r.errors || r.failed)
    bits.push(`lost ${r.lost ?? 0} dup ${r.dup ?? 0} err ${r.errors ?? r.failed}`);
  return bits.join(', ');
}

async function main() {
  if (opt.report) {
    const r = JSON.parse(readFileSync(opt.report, 'utf8'));
    r.summary = summarize(r.samples);
    log(`docs: ${writeDocs(r, root, opt.report)}`);
    return printSummary(r);
  }
  const t0 = Date.now();
  const wanted = opt.peers ? opt.peers.split(',') : Object.keys(PEERS);
  const peers = [];
  const skipped = {};
  for (const p of wanted) {
    if (!PEERS[p]) throw new Error(`unknown peer ${p}`);
    try {
      const s = await startServer(p);
      await stopChild(s.child);
      peers.push(p);
    } catch (e) {
      skipped[p] = String(e.message);
      log(`peer ${p} skipped: ${e.message}`);
    }
  }
  let list = sessions(mode, { maxConns });
  if (opt.sessions) list = list.filter((s) => opt.sessions.split(',').includes(s.name));
  const samples = {};
  const failures = [];
  const startedAt = new Date(t0).toISOString();
  const out =
    opt.out ??
    join(here, 'results', `${startedAt.replace(/[:.]/g, '-')}${mode === 'quick' ? '-quick' : ''}.json`);
  const build = (repsDone) => ({
    schema: 1,
    startedAt,
    durationS: Math.round((Date.now() - t0) / 1000),
    mode,
    complete: repsDone === reps,
    machine: machineInfo(root),
    method: {
      reps: repsDone,
      repsPlanned: reps,
      pinning: pin.ok ? { server: 0, loadgen: 1 } : { off: pin.why },
      perfInstructions: perf.ok ? true : { off: perf.why },
      fdLimit,
      quietWaitMs: QUIET_WAIT_MS,
      retries: MAX_RETRIES,
      payloadBytes: PAYLOAD.length,
      metric: 'server CPU µs (utime+stime, /proc/<pid>/stat) per delivered message in the measured window',
    },
    peers: Object.fromEntries(peers.map((p) => [p, PEERS[p].label])),
    skippedPeers: skipped,
    sessions: list,
    scenarios: scenarioTitles(maxConns),
    summary: summarize(samples),
    samples,
    failures,
  });
  mkdirSync(dirname(out), { recursive: true });
  let result;
  for (let rep = 1; rep <= reps; rep++) {
    for (const session of list) {
      for (const peer of peers) {
        log(`rep ${rep}/${reps} session ${session.name} peer ${peer}`);
        const record = (scenario, r) => {
          samples[scenario] ??= {};
          samples[scenario][peer] ??= [];
          samples[scenario][peer].push({ rep, ...r });
        };
        try {
          await runSession(peer, session, record);
        } catch (e) {
          failures.push({ rep, session: session.name, peer, error: String(e.message ?? e) });
          log(`  FAILED: ${e.message}`);
        }
      }
    }
    // Written after every repetition, so an interrupted run still leaves its figures.
    result = build(rep);
    writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
  }
  log(`results: ${out}`);
  const docs = opt['no-docs'] ? false : (opt.docs ?? mode === 'full');
  if (docs) log(`docs: ${writeDocs(result, root, out)}`);
  printSummary(result);
  if (failures.length) process.exitCode = 1;
}

function printSummary(result) {
  for (const [sc, byPeer] of Object.entries(result.summary)) {
    const main = SCENARIOS[sc]?.main ?? 'serverUsPerMsg';
    const cells = Object.entries(byPeer).map(([p, s]) => {
      const v = s[main];
      if (!v) return `${p}=n/a`;
      const f = (x) => (main === 'rssPerConn' ? (x / 1024).toFixed(1) : x.toFixed(2));
      return `${p}=${f(v.median)} (${f(v.min)}-${f(v.max)})`;
    });
    console.log(`${sc.padEnd(14)} ${main === 'rssPerConn' ? 'KiB/conn' : 'µs/msg  '} ${cells.join('  ')}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
