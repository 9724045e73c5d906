#!/usr/bin/env node
// Switchboard benchmark harness (issue #8). `npm run bench [-- options]`
//
//   --quick              smoke test (< 3 min): every session kind at small sizes, 1 rep
//   --reps N             repetitions, peers interleaved (default 5, quick 1)
//   --peers a,b          subset of the peers in lib/scenarios.mjs (default: all that start)
//   --sessions a,b       subset of 1k, 5k, 20k, groups, storm, msgpack-5k, msgpack-1k, http,
//                        cluster, 100k
//   --idle-ms N          idle period of the 100k session (default 300000, quick 3000)
//   --big-reps N         repetitions that run the 100k session (default 1; quick: all)
//   --docs / --no-docs   rewrite docs/benchmarks.md (default: full runs only)
//   --out FILE           result file (default bench/results/<timestamp>[-quick].json)
//   --retries N          repeat a contended window at most N times (default 1)
//   --report FILE        only rewrite docs/benchmarks.md and the chart from a result file
//   --cluster-n N        receivers of the two-node session (default 5,000; quick 400)
//   --cluster-report FILE  only rewrite the two-node section of docs/benchmarks.md from a result
//                        file (a `--sessions cluster` run), with its machine load
//   --variant N=ENTRY    extra peer switchboard@N importing ENTRY (used by compare.mjs)
//   --scenarios chat     the chat's own benchmark instead (bench/chat/run.mjs takes the other options)
//
// Servers (and the harness's own redis-server) run on core 0, the load generator on core 1
// (taskset, when present). The headline is
// server CPU time (utime + stime from /proc/<pid>/stat) per delivered message over the measured
// window; instructions per message come from `perf stat` where the kernel supports it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { POSTGRES_URL } from './lib/backplanes.mjs';
import { detectPerf, detectPinning, fdHardLimit, machineInfo } from './lib/proc.mjs';
import { summarize, writeClusterSection, writeDocs } from './lib/report.mjs';
import { BIG, PAYLOAD, PEERS, SCENARIOS, scenarioTitles, sessions } from './lib/scenarios.mjs';
import { createHarness, log, runSession, startServer, stopServer } from './lib/session.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
// `--scenarios chat`: the chat's own benchmark (bench/chat/run.mjs), with the other options.
const scenariosAt = process.argv.findIndex((a) => a === '--scenarios' || a.startsWith('--scenarios='));
if (scenariosAt >= 0) {
  const arg = process.argv[scenariosAt];
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : process.argv[scenariosAt + 1];
  if (value !== 'chat') {
    console.error(`--scenarios: only 'chat' is known (got '${value}'); the hub sessions are --sessions`);
    process.exit(2);
  }
  const rest = process.argv
    .slice(2)
    .filter((_, i) => i !== scenariosAt - 2 && (arg.includes('=') || i !== scenariosAt - 1));
  const r = spawnSync(process.execPath, [join(here, 'chat', 'run.mjs'), ...rest], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
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
    'cluster-report': { type: 'string' },
    'cluster-n': { type: 'string' },
    'idle-ms': { type: 'string' },
    'big-reps': { type: 'string' },
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
const reps = Math.max(1, Number(opt.reps ?? (opt.quick ? 1 : 5)));
const idleMs = opt['idle-ms'] ? Number(opt['idle-ms']) : undefined;
const bigReps = opt['big-reps'] ? Number(opt['big-reps']) : undefined;

const pin = detectPinning();
const perf = detectPerf();
const cores = pin.ok ? { server: 0, loadgen: 1 } : { server: null, loadgen: null };
log(`pinning: ${pin.ok ? 'server core 0, load generator core 1' : `off (${pin.why})`}`);
log(`perf instructions: ${perf.ok ? 'yes' : `no (${perf.why})`}`);
// One process holds every connection on each side, so both need a descriptor per connection.
const fdLimit = fdHardLimit();
const maxConns = Math.min(20000, fdLimit - 500);
// The 100k session: as many as the limit allows (a margin for the process's own descriptors).
const bigConns = mode === 'quick' ? 500 : Math.min(BIG, fdLimit - 500);
const bigLimit =
  mode === 'full' && bigConns < BIG
    ? {
        wanted: BIG,
        ran: bigConns,
        blocker: `RLIMIT_NOFILE hard limit ${fdLimit}${capSysResource() ? '' : ' and no CAP_SYS_RESOURCE to raise it'}: one process cannot hold ${BIG} sockets`,
      }
    : null;
log(`fd limit for children: ${fdLimit}; largest fan-out: ${maxConns} receivers; 100k session: ${bigConns}`);
const QUIET_WAIT_MS = mode === 'quick' ? 1000 : 20000;
const MAX_RETRIES = Number(opt.retries ?? (mode === 'quick' ? 0 : 1));
const runId = new Date().toISOString().replace(/[-:.TZ]/g, '');
const h = createHarness({
  cores,
  perf,
  quietWaitMs: QUIET_WAIT_MS,
  retries: MAX_RETRIES,
  postgresUrl: POSTGRES_URL,
  runId,
});

/** Whether this process has CAP_SYS_RESOURCE (bit 24 of CapEff), which raising the hard limit needs. */
function capSysResource() {
  const m = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? ((BigInt(`0x${m[1]}`) >> 24n) & 1n) === 1n : false;
}

/** Why a peer cannot run before trying it, or null. */
async function cannotRun(peer) {
  if (peer.backplane !== 'postgres') return null;
  const pg = await import('@switchboard/backplane-postgres').catch((e) => ({ error: e }));
  if (typeof pg.PostgresHubLifetimeManager === 'function') return null;
  return `@switchboard/backplane-postgres does not export PostgresHubLifetimeManager${pg.error ? ` (${String(pg.error.message).split('\n')[0]})` : ''}`;
}

async function main() {
  if (opt['cluster-report']) {
    const r = JSON.parse(readFileSync(opt['cluster-report'], 'utf8'));
    r.summary = summarize(r.samples);
    log(`docs: ${writeClusterSection(r, root, opt['cluster-report'])}`);
    return printSummary(r);
  }
  if (opt.report) {
    const r = JSON.parse(readFileSync(opt.report, 'utf8'));
    r.summary = summarize(r.samples);
    log(`docs: ${writeDocs(r, root, opt.report)}`);
    return printSummary(r);
  }
  const t0 = Date.now();
  const loadStart = loadavg().map((x) => Number(x.toFixed(2)));
  const clusterN = opt['cluster-n'] ? Number(opt['cluster-n']) : undefined;
  let list = sessions(mode, { maxConns, bigConns, idleMs, clusterN });
  if (opt.sessions) list = list.filter((s) => opt.sessions.split(',').includes(s.name));
  let wanted = opt.peers ? opt.peers.split(',') : Object.keys(PEERS);
  // A `control` peer runs beside the core ones where --peers names it.
  const named = opt.peers ? wanted : [];
  const core = Object.keys(PEERS).filter((p) => !PEERS[p].extra || (PEERS[p].control && named.includes(p)));
  const used = new Set(list.flatMap((s) => s.peers ?? core));
  for (const p of wanted) if (!PEERS[p]) throw new Error(`unknown peer ${p}`);
  wanted = wanted.filter((p) => used.has(p));
  const peers = [];
  const skipped = {};
  for (const p of wanted) {
    try {
      const why = await cannotRun(PEERS[p]);
      if (why) throw new Error(why);
      await stopServer(await startServer(h, p));
      peers.push(p);
    } catch (e) {
      skipped[p] = String(e.message);
      log(`peer ${p} skipped: ${e.message}`);
    }
  }
  const idleStep = list.find((x) => x.name === '100k')?.steps.find((x) => x.type === 'idle');
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
    // The machine's load averages (1, 5, 15 min) when the run started and when this was written.
    load: { start: loadStart, written: loadavg().map((x) => Number(x.toFixed(2))) },
    method: {
      reps: repsDone,
      repsPlanned: reps,
      pinning: pin.ok ? { server: 0, loadgen: 1 } : { off: pin.why },
      perfInstructions: perf.ok ? true : { off: perf.why },
      fdLimit,
      bigSession: {
        connections: bigConns,
        idleMs: idleStep?.durationMs ?? null,
        pingEveryMs: idleStep?.pingEveryMs ?? null,
        reps: bigReps ?? (mode === 'quick' ? repsDone : 1),
        limited: bigLimit,
      },
      redis: h.redis ? (h.redis.own ? 'own redis-server, core of the servers' : h.redis.url) : null,
      postgres: peers.some((p) => PEERS[p].backplane === 'postgres') ? POSTGRES_URL : null,
      quietWaitMs: QUIET_WAIT_MS,
      retries: MAX_RETRIES,
      payloadBytes: PAYLOAD.length,
      metric: 'server CPU µs (utime+stime, /proc/<pid>/stat) per delivered message in the measured window',
    },
    peers: Object.fromEntries(peers.map((p) => [p, PEERS[p].label])),
    skippedPeers: skipped,
    sessions: list,
    scenarios: scenarioTitles(maxConns, {
      bigConns,
      limited: Boolean(bigLimit),
      idleMs: idleStep?.durationMs,
      quick: mode === 'quick',
      clusterN,
    }),
    summary: summarize(samples),
    samples,
    failures,
  });
  mkdirSync(dirname(out), { recursive: true });
  let result;
  for (let rep = 1; rep <= reps; rep++) {
    for (const session of list) {
      const maxReps = bigReps !== undefined && session.name === '100k' ? bigReps : (session.maxReps ?? reps);
      if (rep > maxReps) continue;
      for (const peer of peers.filter((p) => (session.peers ?? core).includes(p))) {
        log(`rep ${rep}/${reps} session ${session.name} peer ${peer}`);
        const record = (scenario, r) => {
          samples[scenario] ??= {};
          samples[scenario][peer] ??= [];
          samples[scenario][peer].push({ rep, ...r });
        };
        try {
          await runSession(h, peer, session, record);
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
  await h.close();
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

// Interrupted: stop the harness's own redis-server too (servers and generator exit with their
// IPC channel).
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    h.close().finally(() => process.exit(130));
  });

main().catch(async (e) => {
  console.error(e);
  await h.close();
  process.exit(1);
});
