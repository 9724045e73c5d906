/**
 * Codec micro-benchmark: node bench/codec/run.mjs [--callgrind] [--rounds N] [--ms M]
 * Timing: median ns/op of interleaved rounds (bounded in count and time).
 * --worker <candidate> <workload> <op> <n>: run n ops (used under callgrind).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { candidates, protocolPath, workloads } from './candidates.mjs';

const all = { ...candidates, 'protocol path': protocolPath };
const input = (cand, wl, op) => {
  const w = workloads[wl];
  const v = cand === 'protocol path' ? w.message : w.array;
  return op === 'encode' ? v : Buffer.from(all[cand].encode(v));
};
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(n) ? Number(args[args.indexOf(n) + 1]) : d);

function loop(fn, x, n) {
  let sink;
  for (let i = 0; i < n; i++) sink = fn(x);
  return sink;
}

if (args[0] === '--worker') {
  const [, cand, wl, op, n] = args;
  loop(all[cand][op], input(cand, wl, op), Number(n));
  process.exit(0);
}

const rounds = opt('--rounds', 5);
const ms = opt('--ms', 200);
const rows = [];
for (const cand of Object.keys(all))
  for (const wl of Object.keys(workloads))
    for (const op of ['encode', 'decode']) rows.push({ cand, wl, op, x: input(cand, wl, op), ns: [] });
for (const r of rows) loop(all[r.cand][r.op], r.x, 20_000); // warm-up
for (let k = 0; k < rounds; k++)
  for (const r of rows) {
    const fn = all[r.cand][r.op];
    let n = 0;
    const t0 = process.hrtime.bigint();
    const end = t0 + BigInt(ms) * 1_000_000n;
    let t = t0;
    while (t < end && n < 5_000_000) {
      loop(fn, r.x, 1000);
      n += 1000;
      t = process.hrtime.bigint();
    }
    r.ns.push(Number(t - t0) / n);
  }
const callgrind = args.includes('--callgrind');
const N = 100_000;
const out = rows.map((r) => {
  const s = [...r.ns].sort((a, b) => a - b);
  return {
    candidate: r.cand,
    workload: r.wl,
    op: r.op,
    nsPerOp: s[Math.floor(s.length / 2)],
    min: s[0],
    max: s.at(-1),
    opsPerSec: 1e9 / s[Math.floor(s.length / 2)],
  };
});
if (callgrind) {
  for (const o of out) {
    const ir = (n) => {
      const res = execFileSync(
        'sh',
        [
          '-c',
          `valgrind --tool=callgrind --callgrind-out-file=/dev/null "${process.execPath}" "${fileURLToPath(import.meta.url)}" --worker "${o.candidate}" ${o.workload} ${o.op} ${n} 2>&1 | grep -o 'Collected : [0-9]*'`,
        ],
        { encoding: 'utf8' },
      );
      return Number(res.trim().split(' ').at(-1));
    };
    o.instructionsPerOp = (ir(N) - ir(0)) / N;
  }
}
const version = (p) =>
  JSON.parse(readFileSync(new URL(`../../node_modules/${p}/package.json`, import.meta.url), 'utf8')).version;
const result = {
  at: new Date().toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, load: os.loadavg() },
  node: process.version,
  versions: { '@msgpack/msgpack': version('@msgpack/msgpack'), msgpackr: version('msgpackr') },
  rounds,
  msPerRound: ms,
  rows: out,
};
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}codec-${result.at.replace(/[:.]/g, '-')}.json`;
writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
for (const o of out)
  console.log(
    `${o.candidate.padEnd(20)} ${o.workload.padEnd(11)} ${o.op} ${o.nsPerOp.toFixed(0)} ns/op (${o.min.toFixed(0)}-${o.max.toFixed(0)})${o.instructionsPerOp ? ` ${o.instructionsPerOp.toFixed(0)} instr/op` : ''}`,
  );
console.log(file);
