// 100,000 idle WebSocket connections on one machine (issue #16): the conformance server with
// `--workers N` (node:cluster workers joined by the in-box bus), G load generator processes
// (bench/c100k-gen.mjs, raw `ws`, SignalR JSON handshake on /testhub) whose client sockets are
// spread over source addresses 127.1.<g>.<k>, a hold with keep-alive, then one broadcast
// (`SendToAll`) that every connection must receive.
//
//   npm run build
//   node bench/c100k.mjs [--connections 100000] [--workers 6] [--generators 6] [--hold-s 300]
//                        [--per-source 10000] [--concurrency 50] [--out FILE] [--no-write]
//
// Every process runs with its fd limit raised to the hard limit (`ulimit -n`); each worker and
// each generator must stay below it, so the run refuses a split that would not. The result goes
// to bench/results/c100k-<time>.json (or --out) and is printed. Every wait is bounded.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  childPids,
  fdLimits,
  kernelLimits,
  load,
  percentiles,
  readProcs,
  sockstat,
} from './lib/c100k-sys.mjs';
import { machineInfo, waitMessage } from './lib/proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const KiB = 1024;
const MiB = 1024 * 1024;
const r2 = (x) => Math.round(x * 100) / 100;

const { values: opt } = parseArgs({
  options: {
    connections: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '6' },
    generators: { type: 'string', default: '6' },
    'hold-s': { type: 'string', default: '300' },
    'per-source': { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '50' },
    'ping-every-ms': { type: 'string', default: '15000' },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const N = Number(opt.connections);
const W = Number(opt.workers);
const G = Number(opt.generators);
const HOLD_MS = Number(opt['hold-s']) * 1000;
const PER_SOURCE = Number(opt['per-source']);
const log = (...a) => {
  if (!opt.quiet) console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
};

const limits = { fd: fdLimits(), kernel: kernelLimits() };
const perWorker = Math.ceil(N / W);
const perGen = Math.ceil(N / G);
// Room for each process's own descriptors (listeners, pipes, the bus, libuv).
const FD_ROOM = 500;
if (perWorker > limits.fd.raised - FD_ROOM || perGen > limits.fd.raised - FD_ROOM) {
  console.error(
    `c100k: ${N} connections over ${W} workers and ${G} generators need ${Math.max(perWorker, perGen)} sockets in one process; the fd limit is ${limits.fd.raised} (keep ${FD_ROOM} spare): use more workers/generators`,
  );
  process.exit(2);
}
const [portLo, portHi] = limits.kernel.ipLocalPortRange ?? [32768, 60999];
if (PER_SOURCE > portHi - portLo + 1) {
  console.error(
    `c100k: --per-source ${PER_SOURCE} exceeds the ${portHi - portLo + 1} ephemeral ports of one address`,
  );
  process.exit(2);
}

const RAISE = 'ulimit -n "$(ulimit -Hn)" || exit 3; exec "$@"';
const children = [];

/** Starts the conformance server with W workers; resolves once it prints its listening line. */
async function startServer() {
  const script = join(root, 'conformance/dist/main.js');
  const child = spawn(
    '/bin/sh',
    ['-c', RAISE, 'sh', process.execPath, script, '--port', '0', '--workers', String(W)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server: no listening line within 120 s: ${out}`)), 120000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /Now listening on: http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
  const workers = childPids(child.pid);
  if (workers.length !== W) throw new Error(`server: ${workers.length} worker processes, expected ${W}`);
  return { child, port, primary: child.pid, workers, pids: [child.pid, ...workers] };
}

/** Starts one generator process; resolves once it reports ready. */
async function startGenerator() {
  const child = spawn('/bin/sh', ['-c', RAISE, 'sh', process.execPath, join(here, 'c100k-gen.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  // A generator that died makes its IPC channel fail; the waits report that.
  child.on('error', () => {});
  const ready = await waitMessage(child, (m) => m.evt === 'ready', 60000, 'generator');
  return { child, pid: ready.pid };
}

async function call(g, msg, timeoutMs = 60000) {
  if (!g.child.connected) throw new Error(`${msg.cmd}: the generator is gone`);
  g.child.send(msg);
  const m = await waitMessage(g.child, (x) => x.evt === 'result' && x.cmd === msg.cmd, timeoutMs, msg.cmd);
  if (m.result.error) throw new Error(`${msg.cmd}: ${m.result.error}`);
  return m.result;
}

const sumStats = (all) => {
  const s = {
    open: 0,
    live: 0,
    closesAfterOpen: 0,
    pingsSent: 0,
    serverPings: 0,
    closeMessages: 0,
    closeCodes: {},
  };
  for (const x of all) {
    for (const k of ['open', 'live', 'closesAfterOpen', 'pingsSent', 'serverPings', 'closeMessages'])
      s[k] += x[k];
    for (const [c, n] of Object.entries(x.closeCodes)) s.closeCodes[c] = (s.closeCodes[c] ?? 0) + n;
    s.closeSample ??= x.closeSample;
  }
  return s;
};

async function main() {
  const startedAt = new Date();
  log(`c100k: ${N} connections, ${W} workers, ${G} generators, hold ${HOLD_MS / 1000} s; load ${load()}`);
  const srv = await startServer();
  const gens = [];
  for (let g = 0; g < G; g++) gens.push(await startGenerator());
  const genPids = gens.map((g) => g.pid);
  await sleep(2000);
  const base = { server: readProcs(srv.pids), gens: readProcs(genPids), sockstat: sockstat(), load: load() };

  // Connect: every generator at once, its share of N from addresses of its own.
  const shares = gens.map((_, g) => Math.floor(N / G) + (g < N % G ? 1 : 0));
  const t0 = performance.now();
  // Watch the workers' descriptors while connecting: node:cluster hands each accepted socket to a
  // worker that is free, so a busy worker gets fewer and the others more.
  const peakFds = {};
  let overLimit = null;
  const watch = setInterval(() => {
    const now = readProcs(srv.workers);
    for (const p of now.each) peakFds[p.pid] = Math.max(peakFds[p.pid] ?? 0, p.fds ?? 0);
    const worst = Math.max(...now.each.map((p) => p.fds ?? 0));
    if (worst > limits.fd.raised - 200 && !overLimit) {
      overLimit = `a worker holds ${worst} descriptors of its ${limits.fd.raised}`;
      log(`stopping: ${overLimit}`);
      for (const g of gens) g.child.kill('SIGKILL');
    }
    log(`  connecting: workers' descriptors ${now.each.map((p) => p.fds).join(' ')}; load ${load()[0]}`);
    if (++ticks % 3 === 0)
      Promise.all(gens.map((g) => call(g, { cmd: 'stats' }))).then(
        (all) => {
          const s = sumStats(all);
          log(
            `  connecting: open ${s.open}, closed ${s.closesAfterOpen} ${JSON.stringify(s.closeCodes)} ${s.closeSample ?? ''}`,
          );
        },
        () => {},
      );
  }, 5000);
  let ticks = 0;
  const results = await Promise.all(
    gens.map((gen, g) => {
      const nSrc = Math.max(1, Math.ceil(shares[g] / PER_SOURCE));
      const sources = Array.from({ length: nSrc }, (_, k) => `127.1.${g}.${k + 1}`);
      gen.child.send({ cmd: 'setPing', pingEveryMs: Number(opt['ping-every-ms']) });
      return call(
        gen,
        {
          cmd: 'connect',
          port: srv.port,
          count: shares[g],
          sources,
          concurrency: Number(opt.concurrency),
          timeoutMs: 1200000,
        },
        1260000,
      );
    }),
  ).finally(() => clearInterval(watch));
  const connectMs = performance.now() - t0;
  const open = results.reduce((a, r) => a + r.open, 0);
  const lat = percentiles(results.flatMap((r) => r.lat));
  const connectErrors = {};
  for (const r of results)
    for (const [e, n] of Object.entries(r.errors)) connectErrors[e] = (connectErrors[e] ?? 0) + n;
  const failed = results.reduce((a, r) => a + r.failed, 0);
  log(
    `connected ${open}/${N} in ${(connectMs / 1000).toFixed(1)} s (p50 ${lat.p50} ms, p99 ${lat.p99} ms), ${failed} failed attempts`,
  );
  if (open < N) throw new Error(`connected ${open}/${N}: ${JSON.stringify(connectErrors)}`);

  await sleep(1000);
  const after = { server: readProcs(srv.pids), gens: readProcs(genPids), sockstat: sockstat(), load: load() };
  const perConn = (a, b) => (a - b) / N;

  // Hold: keep-alive only; progress every 10 s.
  log(`holding for ${HOLD_MS / 1000} s`);
  const holdStart = { server: readProcs(srv.pids), gens: readProcs(genPids), t: performance.now() };
  const loads = [];
  while (performance.now() - holdStart.t < HOLD_MS) {
    await sleep(Math.min(10000, HOLD_MS - (performance.now() - holdStart.t)));
    const s = sumStats(await Promise.all(gens.map((g) => call(g, { cmd: 'stats' }))));
    loads.push(load()[0]);
    log(
      `  ${Math.round((performance.now() - holdStart.t) / 1000)} s: live ${s.live}, closed ${s.closesAfterOpen}, pings sent ${s.pingsSent}, server pings ${s.serverPings}, load ${load()[0]}`,
    );
  }
  const holdEnd = { server: readProcs(srv.pids), gens: readProcs(genPids), t: performance.now() };
  const holdMs = holdEnd.t - holdStart.t;
  const held = sumStats(await Promise.all(gens.map((g) => call(g, { cmd: 'stats' }))));
  const serverIdleUsPerS = ((holdEnd.server.cpuUs - holdStart.server.cpuUs) * 1000) / holdMs;

  // One broadcast: SendToAll from a connection of generator 0; every connection must get it once.
  const token = `c100k-${Date.now().toString(36)}`;
  await Promise.all(gens.map((g) => call(g, { cmd: 'expect', token })));
  const alls = gens.map((g) => waitMessage(g.child, (m) => m.evt === 'all', 300000, 'broadcast'));
  const b0 = { server: readProcs(srv.pids), gens: readProcs(genPids), t: performance.now() };
  let allMsgs;
  let broadcastError = null;
  let fired = { firedAt: null };
  try {
    // Nothing to send from (every connection closed during the hold) is reported, not thrown.
    fired = await call(gens[0], { cmd: 'fire', token });
    allMsgs = await Promise.all(alls);
  } catch (e) {
    broadcastError = String(e.message ?? e);
    for (const a of alls) a.catch(() => {});
  }
  const b1 = { server: readProcs(srv.pids), gens: readProcs(genPids), t: performance.now() };
  await sleep(2000);
  const fin = await Promise.all(gens.map((g) => call(g, { cmd: 'stats' })));
  const delivered = fin.reduce((a, s) => a + s.delivered, 0);
  const duplicates = fin.reduce((a, s) => a + s.duplicates, 0);
  const lastAt = allMsgs && fired.firedAt !== null ? Math.max(...allMsgs.map((m) => m.at)) : null;
  const bcastMs = lastAt === null ? null : lastAt - fired.firedAt;
  const bcastCpuUs = b1.server.cpuUs - b0.server.cpuUs;
  const idleShareUs = (serverIdleUsPerS * (b1.t - b0.t)) / 1000;
  log(
    `broadcast: ${delivered}/${open} delivered in ${bcastMs?.toFixed(0)} ms, ${duplicates} twice; server CPU ${(bcastCpuUs / 1000).toFixed(0)} ms`,
  );

  const final = sumStats(fin);
  const result = {
    kind: 'c100k',
    startedAt: startedAt.toISOString(),
    machine: machineInfo(root),
    limits,
    options: {
      connections: N,
      workers: W,
      generators: G,
      holdS: HOLD_MS / 1000,
      perSource: PER_SOURCE,
      concurrency: Number(opt.concurrency),
      pingEveryMs: Number(opt['ping-every-ms']),
    },
    load: {
      atStart: base.load,
      afterConnect: after.load,
      duringHold1m: loads,
      avgDuringHold1m: r2(loads.reduce((a, x) => a + x, 0) / (loads.length || 1)),
    },
    server: {
      primary: srv.primary,
      workers: srv.workers.length,
      peakWorkerFds: Object.values(peakFds),
      perProcessConnections: after.server.each.map((p) => ({
        pid: p.pid,
        fds: p.fds,
        rssMiB: r2(p.rss / MiB),
      })),
    },
    generators: {
      count: G,
      perProcess: after.gens.each.map((p) => ({ pid: p.pid, fds: p.fds, rssMiB: r2(p.rss / MiB) })),
      sourcesPerGenerator: Math.ceil(perGen / PER_SOURCE),
    },
    connect: {
      open,
      failedAttempts: failed,
      errors: connectErrors,
      totalMs: Math.round(connectMs),
      perSecond: Math.round(open / (connectMs / 1000)),
      handshakeMs: lat,
    },
    memory: {
      note: 'VmRSS, no forced GC; read 1 s after the last handshake',
      serverBaselineMiB: r2(base.server.rss / MiB),
      serverMiB: r2(after.server.rss / MiB),
      generatorsBaselineMiB: r2(base.gens.rss / MiB),
      generatorsMiB: r2(after.gens.rss / MiB),
      serverKiBPerConn: r2(perConn(after.server.rss, base.server.rss) / KiB),
      generatorsKiBPerConn: r2(perConn(after.gens.rss, base.gens.rss) / KiB),
      allKiBPerConn: r2(perConn(after.server.rss + after.gens.rss, base.server.rss + base.gens.rss) / KiB),
      serverTotalKiBPerConn: r2(after.server.rss / N / KiB),
      allTotalKiBPerConn: r2((after.server.rss + after.gens.rss) / N / KiB),
      serverAfterHoldMiB: r2(holdEnd.server.rss / MiB),
      generatorsAfterHoldMiB: r2(holdEnd.gens.rss / MiB),
      tcpSocketMemPagesAfterConnect: after.sockstat?.memPages ?? null,
    },
    hold: {
      ms: Math.round(holdMs),
      closed: held.closesAfterOpen,
      closeCodes: held.closeCodes,
      closeMessages: held.closeMessages,
      closeSample: held.closeSample ?? null,
      liveAtEnd: held.live,
      clientPingsSent: held.pingsSent,
      serverPingsReceived: held.serverPings,
      serverCpuPctOfCore: r2(serverIdleUsPerS / 1e4),
      serverCpuUsPerConnPerS: r2(serverIdleUsPerS / N),
      generatorsCpuPctOfCore: r2(((holdEnd.gens.cpuUs - holdStart.gens.cpuUs) * 1000) / holdMs / 1e4),
    },
    broadcast: {
      receivers: open,
      delivered,
      lost: open - delivered,
      duplicates,
      error: broadcastError,
      allReceivedMs: bcastMs === null ? null : r2(bcastMs),
      perGenerator:
        allMsgs?.map((m) => ({
          delivered: m.delivered,
          live: m.live,
          msAfterSend: r2(m.at - fired.firedAt),
        })) ?? null,
      serverCpuMs: r2(bcastCpuUs / 1000),
      serverCpuUsPerDelivery: delivered ? r2(bcastCpuUs / delivered) : null,
      serverCpuUsPerDeliveryLessIdle: delivered
        ? r2(Math.max(0, bcastCpuUs - idleShareUs) / delivered)
        : null,
      generatorsCpuMs: r2((b1.gens.cpuUs - b0.gens.cpuUs) / 1000),
      closedBeforeBroadcast: final.closesAfterOpen,
    },
  };
  const ok = delivered === open && duplicates === 0 && held.closesAfterOpen === 0 && !broadcastError;
  result.ok = ok;

  await Promise.all(gens.map((g) => call(g, { cmd: 'closeAll' }).catch(() => {})));
  if (!opt['no-write']) {
    const out =
      opt.out ?? join(here, 'results', `c100k-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${out}`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return ok;
}

/** Stops every process this run started: generators first, then the server (SIGTERM drains it). */
async function cleanup() {
  for (const c of children.slice().reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 30000);
    await gone;
    clearTimeout(t);
  }
}

let code = 1;
try {
  code = (await main()) ? 0 : 1;
} catch (e) {
  console.error(`c100k: ${e.stack ?? e}`);
} finally {
  await cleanup();
}
process.exit(code);
