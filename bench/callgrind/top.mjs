// The heaviest functions of a `.cpuprofile` (node --cpu-prof), by self time and by total time.
//
//   node bench/callgrind/top.mjs FILE.cpuprofile [N=40]
import { readFileSync } from 'node:fs';

const [file, n = '40'] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i + 1] ?? 0));
}
const parent = new Map();
for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const key = (x) => {
  const f = x.callFrame;
  const url = f.url.replace(/^.*\/(node_modules|packages)\//, '$1/');
  return `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
};
const selfBy = new Map();
const totalBy = new Map();
let all = 0;
for (const [id, t] of self) {
  all += t;
  const k = key(byId.get(id));
  selfBy.set(k, (selfBy.get(k) ?? 0) + t);
  // Total: once per distinct function on the stack.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const kk = key(byId.get(cur));
    if (seen.has(kk)) continue;
    seen.add(kk);
    totalBy.set(kk, (totalBy.get(kk) ?? 0) + t);
  }
}
const show = (title, m) => {
  console.log(`\n${title} (of ${(all / 1000).toFixed(0)} ms)`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(n)))
    console.log(`${((t / all) * 100).toFixed(1).padStart(5)} %  ${k}`);
};
show('self', selfBy);
show('total', totalBy);
