#!/usr/bin/env node
// The chat's own benchmark (issue #16). `npm run bench:chat [-- options]`, or
// `npm run bench -- --scenarios chat [-- options]`.
//
//   --configs a,b      sqlite, sqlite-workers, pg-redis-3 (default: sqlite)
//   --users a,b        users online (default 1000)
//   --rates a,b        total messages per second (default 100)
//   --seconds N        measured window per run (default 30), after --warmup N seconds (default 5)
//   --search           per configuration and size: raise the rate (--rates is the ladder) until a
//                      run is not sustained, then stop
//   --direct-share X   share of messages sent to direct conversations (default 0.1)
//   --generators N     load-generator processes (default 2)
//   --wait-load X      before each run, wait (at most --wait-max seconds, default 300) until the
//                      1-minute load average is under X; the run records how long it waited
//   --out FILE         result file (default bench/results/chat-<timestamp>.json)
//   --docs             rewrite the "The chat's own benchmark" section of docs/benchmarks.md and
//                      bench/results/chat-bench.svg from every bench/results/chat-<time>.json
//   --report           only that (no run)
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from '../lib/proc.mjs';
import { runChat } from './bench.mjs';
import { killLive } from './cluster.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: opt } = parseArgs({
  allowPositionals: true,
  options: {
    configs: { type: 'string', default: 'sqlite' },
    users: { type: 'string', default: '1000' },
    rates: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    search: { type: 'boolean', default: false },
    'direct-share': { type: 'string', default: '0.1' },
    generators: { type: 'string', default: '2' },
    'wait-load': { type: 'string' },
    'wait-max': { type: 'string', default: '300' },
    out: { type: 'string' },
    docs: { type: 'boolean', default: false },
    report: { type: 'boolean', default: false },
    scenarios: { type: 'string' },
  },
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killLive();
    process.exit(130);
  });
}
const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const log = (s) => console.log(`[chat-bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

if (!opt.report) {
  const at = new Date().toISOString();
  const runs = [];
  const out = opt.out ?? join(here, '..', 'results', `chat-${at.replace(/[:.]/g, '-')}.json`);
  const save = () => {
    mkdirSync(dirname(out), { recursive: true });
    const result = {
      at,
      kind: 'chat',
      machine: machineInfo(root),
      loadavgAtStart: loadavg(),
      search: opt.search,
      runs,
    };
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  };
  let n = 0;
  for (const config of list(opt.configs)) {
    for (const users of list(opt.users).map(Number)) {
      for (const rate of list(opt.rates).map(Number)) {
        log(`== ${config}, ${users} users, ${rate} msg/s`);
        let waitedSeconds = 0;
        if (opt['wait-load']) {
          const until = Date.now() + Number(opt['wait-max']) * 1000;
          const t0 = Date.now();
          while (loadavg()[0] >= Number(opt['wait-load']) && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 5_000));
          }
          waitedSeconds = (Date.now() - t0) / 1000;
          log(`   load average ${loadavg()[0].toFixed(1)} after waiting ${waitedSeconds.toFixed(0)} s`);
        }
        let r;
        try {
          r = await runChat({
            config,
            users,
            rate,
            seconds: Number(opt.seconds),
            warmup: Number(opt.warmup),
            directShare: Number(opt['direct-share']),
            generators: Number(opt.generators),
            tag: `${process.pid}_${n++}`,
            log,
          });
        } catch (e) {
          r = { config, users, rate, error: String(e?.message ?? e), sustained: false };
        }
        r.waitedForLoadSeconds = waitedSeconds;
        runs.push(r);
        save();
        log(
          r.error
            ? `   failed: ${r.error}`
            : `   stored ${r.storedPerSecond.toFixed(0)}/s, ${r.deliveriesPerSecond.toFixed(0)} deliveries/s, p50 ${r.latencyMs.p50?.toFixed(1)} ms, p99 ${r.latencyMs.p99?.toFixed(1)} ms, server CPU ${r.serverCpuUsPerMessage?.toFixed(0)} µs/msg (${r.serverCpuPercent.toFixed(0)} %), RSS ${(r.serverRssBytes / 2 ** 20).toFixed(0)} MiB, lost ${r.lost}, twice ${r.dup}, failed ${r.failed}, load ${r.loadavgDuring[0].toFixed(1)}${r.sustained ? '' : ' (not sustained)'}`,
        );
        if (opt.search && !r.sustained) break;
      }
    }
  }
  log(`results: ${out}`);
}
if (opt.docs || opt.report) {
  const { writeChatBenchDocs } = await import('./report.mjs');
  writeChatBenchDocs(root);
  log('docs/benchmarks.md and bench/results/chat-bench.svg updated');
}
