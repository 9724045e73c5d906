#!/usr/bin/env node
// Runs every test file of the repository with Node's own test runner on the TypeScript sources
// (the `source` export condition, loaded through tsx), prints each file's time, and ends with a
// plain "N passed, N failed, N skipped" line.
//
//   node scripts/run-tests.mjs                 every test
//   node scripts/run-tests.mjs packages/server only files whose path contains one of the arguments
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'conformance', 'bench', 'examples', 'fuzz'];
const filters = process.argv.slice(2);

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (/\.test\.ts$/.test(name)) out.push(relative(root, path));
  }
  return out;
}

const files = roots
  .flatMap((r) => collect(join(root, r), []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}

mkdirSync(join(root, '.tmp'), { recursive: true });
const timesFile = join(root, '.tmp', `test-times-${process.pid}.json`);
const args = [
  '--conditions=source',
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  // A test that hangs fails after this long instead of holding the whole run.
  `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 300_000}`,
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/test-times-reporter.mjs',
  `--test-reporter-destination=${timesFile}`,
  ...files,
];
const started = Date.now();
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => {
  let summary = { files: {}, passed: 0, failed: 0, skipped: 0 };
  try {
    summary = JSON.parse(readFileSync(timesFile, 'utf8'));
  } catch {
    // the reporter did not finish: the exit code below still tells
  }
  rmSync(timesFile, { force: true });
  const rows = Object.entries(summary.files).sort((a, b) => b[1] - a[1]);
  console.log('\nper-file times:');
  for (const [file, ms] of rows)
    console.log(`  ${(ms / 1000).toFixed(2).padStart(8)} s  ${relative(root, file)}`);
  console.log(
    `  ${((Date.now() - started) / 1000).toFixed(2).padStart(8)} s  wall clock, ${files.length} files`,
  );
  console.log(`\ntests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  process.exit(code ?? (signal ? 1 : 0));
});
