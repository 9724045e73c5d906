#!/usr/bin/env node
// Runs two commits of Switchboard side by side and prints B/A ratios.
//
//   npm run bench:compare -- A B [--quick] [--reps N] [--sessions 1k,5k]
//
// A and B are anything `git rev-parse` accepts (a branch, a tag, HEAD~3, a sha). Each is checked
// out with `git worktree add --detach` into .tmp/bench-<sha12>, given a node_modules made of
// symlinks into this checkout's node_modules (except @switchboard/*, which point at the
// worktree's own packages: no npm install), and built with `tsc -b` there. The harness of THIS
// checkout then runs both builds as two peers in one run, so they are interleaved repetition by
// repetition and measured by identical code. Results: .tmp/compare-<a>-<b>.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadResult } from './lib/report.mjs';
import { SCENARIOS } from './lib/scenarios.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const [a, b, ...rest] = process.argv.slice(2);
if (!a || !b || a.startsWith('-') || b.startsWith('-')) {
  console.error('usage: npm run bench:compare -- <commit A> <commit B> [--quick] [--reps N] [--sessions …]');
  process.exit(2);
}
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();

/** Symlinks every top-level entry of the main node_modules, except our own workspaces. */
function linkNodeModules(wt) {
  const nm = join(wt, 'node_modules');
  if (existsSync(nm)) return;
  mkdirSync(nm);
  for (const e of readdirSync(join(root, 'node_modules'))) {
    if (e === '@switchboard') continue;
    symlinkSync(join(root, 'node_modules', e), join(nm, e));
  }
  mkdirSync(join(nm, '@switchboard'));
  const own = { protocol: 'packages/protocol', server: 'packages/server', testkit: 'packages/testkit' };
  Object.assign(own, { conformance: 'conformance', bench: 'bench' });
  for (const [name, dir] of Object.entries(own)) {
    if (existsSync(join(wt, dir))) symlinkSync(join(wt, dir), join(nm, '@switchboard', name));
  }
}

function prepare(rev) {
  const sha = git('rev-parse', '--verify', `${rev}^{commit}`);
  const wt = join(root, '.tmp', `bench-${sha.slice(0, 12)}`);
  if (!existsSync(wt)) {
    mkdirSync(dirname(wt), { recursive: true });
    git('worktree', 'add', '--detach', wt, sha);
  }
  linkNodeModules(wt);
  console.log(`building ${rev} (${sha.slice(0, 12)}) in ${wt}`);
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: wt, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`build of ${rev} failed`);
  const entry = join(wt, 'packages', 'server', 'dist', 'index.js');
  if (!existsSync(entry)) throw new Error(`${rev}: no packages/server/dist/index.js after build`);
  return { rev, sha, entry };
}

const A = prepare(a);
const B = prepare(b);
const out = join(root, '.tmp', `compare-${A.sha.slice(0, 8)}-${B.sha.slice(0, 8)}.json`);
const run = spawnSync(
  process.execPath,
  [
    join(here, 'run.mjs'),
    '--variant',
    `A=${A.entry}`,
    '--variant',
    `B=${B.entry}`,
    '--peers',
    'switchboard@A,switchboard@B',
    '--no-docs',
    '--out',
    out,
    ...rest,
  ],
  { stdio: 'inherit' },
);
if (!existsSync(out)) process.exit(run.status ?? 1);

const res = loadResult(out);
console.log(
  `\nA = ${a} (${A.sha.slice(0, 12)}), B = ${b} (${B.sha.slice(0, 12)}); ratio B/A, < 1 means B is cheaper`,
);
for (const [sc, byPeer] of Object.entries(res.summary)) {
  const main = SCENARIOS[sc]?.main ?? 'serverUsPerMsg';
  const va = byPeer['switchboard@A']?.[main];
  const vb = byPeer['switchboard@B']?.[main];
  if (!va || !vb) continue;
  const f = (x) => (main === 'rssPerConn' ? `${(x / 1024).toFixed(2)} KiB` : `${x.toFixed(2)} µs`);
  const ratio = vb.median / va.median;
  const overlap = vb.min <= va.max && va.min <= vb.max;
  console.log(
    `${sc.padEnd(14)} A ${f(va.median).padStart(10)}  B ${f(vb.median).padStart(10)}  B/A ${ratio.toFixed(3)}${overlap ? '  (ranges overlap)' : ''}`,
  );
}
console.log(`\nfull results: ${out}\nremove worktrees with: git worktree remove .tmp/bench-<sha12>`);
process.exit(run.status ?? 0);
