// The soak's verdict (bench/soak/analyse.mjs) on made-up runs, and a short real run of the soak
// (two nodes on Redis, every client kind): nothing lost, no descriptor leaked. The short run is too
// short to judge memory or latency; the hour-long run by hand does that (docs/benchmarks.md).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireService } from '@switchboard/testkit';
import { fittedGrowth, quantile, thirds, verdict } from '../soak/analyse.mjs';

const root = new URL('../..', import.meta.url).pathname;

/** A run of 90 minutes' worth of samples with the given memory and latency shapes. */
function madeUpRun(opts: {
  rss: (t: number) => number;
  heap?: (t: number) => number;
  latency: (t: number) => number;
  gaps?: number;
  finalFds?: number;
}) {
  const endMs = 90 * 60_000;
  const samples = [];
  const latencies = [];
  for (let t = 0; t <= endMs; t += 10_000) {
    for (const node of ['a', 'b']) {
      samples.push({ t, node, rss: opts.rss(t), heapUsed: (opts.heap ?? opts.rss)(t) / 4, fds: 30 });
    }
    for (let k = 0; k < 20; k++) latencies.push({ t: t + k * 500, ms: opts.latency(t) * (k === 0 ? 5 : 1) });
  }
  return {
    warmupEndMs: 9 * 60_000,
    endMs,
    samples,
    latencies,
    fds: { baseline: { a: 30, b: 30 }, final: { a: opts.finalFds ?? 30, b: 30 } },
    delivery: { gaps: opts.gaps ?? 0, duplicates: 0, missingAtEnd: 0, receivers: 26 },
    churn: { failed: 0 },
  };
}

test('soak verdict: quantiles, thirds and fitted growth', () => {
  assert.equal(quantile([5, 1, 3, 2, 4], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
  assert.equal(quantile([], 0.99), null);
  assert.deepEqual(thirds(0, 90), [
    [0, 30],
    [30, 60],
    [60, 90],
  ]);
  const flat = Array.from({ length: 50 }, (_, i) => ({ t: i, y: 100 + (i % 2 ? 3 : -3) }));
  assert.ok(Math.abs(fittedGrowth(flat) ?? 1) < 0.01);
  const rising = Array.from({ length: 50 }, (_, i) => ({ t: i, y: 100 + i }));
  assert.ok(Math.abs((fittedGrowth(rising) ?? 0) - 0.49) < 0.001);
});

test('soak verdict: a flat, steady, lossless run passes', () => {
  const v = verdict(madeUpRun({ rss: () => 80e6 + Math.random() * 1e6, latency: () => 10 }));
  assert.equal(v.pass, true, JSON.stringify(v.checks));
});

test('soak verdict: memory that keeps growing fails, as does growth of the heap alone', () => {
  const leak = verdict(madeUpRun({ rss: (t) => 80e6 + t * 10, latency: () => 10 }));
  assert.equal(leak.checks.memoryFlat, false);
  assert.equal(leak.pass, false);
  // Growth during the warm-up does not count.
  const warm = verdict(madeUpRun({ rss: (t) => (t < 9 * 60_000 ? 40e6 + t * 50 : 67e6), latency: () => 10 }));
  assert.equal(warm.checks.memoryFlat, true);
  const heapOnly = verdict(madeUpRun({ rss: () => 80e6, heap: (t) => 80e6 + t * 10, latency: () => 10 }));
  assert.equal(heapOnly.checks.memoryFlat, false);
});

test('soak verdict: a slower last third, a leaked descriptor, a lost message each fail', () => {
  const slower = verdict(madeUpRun({ rss: () => 80e6, latency: (t) => (t > 65 * 60_000 ? 20 : 10) }));
  assert.equal(slower.checks.latencyStable, false);
  assert.ok((slower.latency.p99Ratio ?? 0) > 1.5);
  assert.equal(
    verdict(madeUpRun({ rss: () => 80e6, latency: () => 10, finalFds: 31 })).checks.noFdLeak,
    false,
  );
  assert.equal(verdict(madeUpRun({ rss: () => 80e6, latency: () => 10, gaps: 1 })).checks.nothingLost, false);
});

// The run takes about 40 s on a quiet machine; its own timeout leaves room for a loaded one.
test('a short soak on Redis: nothing lost across churn and proxy cuts, no descriptor leaked', {
  timeout: 300_000,
}, async (t) => {
  if (!(await requireService(t, { kind: 'tcp', name: 'Redis', host: '127.0.0.1', port: 6379 }))) return;
  const out = join(tmpdir(), `soak-test-${process.pid}.json`);
  const child = spawn(
    process.execPath,
    [
      'bench/soak/run.mjs',
      '--minutes',
      '0.3',
      '--quiesce-s',
      '6',
      '--sample-s',
      '4',
      '--cut-s',
      '6',
      '--receivers',
      '5',
      '--stateful',
      '2',
      '--churn',
      '4',
      '--out',
      out,
      '--quiet',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // 0 or 1 (a run this short cannot judge memory or latency); 2 and above are harness failures.
  assert.ok(code === 0 || code === 1, `soak exited ${code}: ${stderr}`);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(out, { force: true });
  rmSync(out.replace(/\.json$/, '.svg'), { force: true });
  assert.equal(result.verdict.checks.nothingLost, true, JSON.stringify(result.summary));
  assert.equal(result.verdict.checks.noFdLeak, true, JSON.stringify(result.verdict.fdLeaks));
  assert.ok(result.summary.proxyCuts >= 2, 'the stateful clients were cut');
  assert.ok(result.summary.churn.completed > 10, 'clients came and went');
  assert.ok(Object.values(result.summary.broadcastsSent as Record<string, number>).every((n) => n > 50));
});
