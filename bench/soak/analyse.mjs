// The soak's verdict, computed from what a run recorded (pure functions, tested on their own in
// bench/test/soak-analyse.test.ts). The pass criteria, after the warm-up:
// - memory: RSS and live heap of every node grow by less than 5 % over the last two thirds of the
//   run (a least-squares line through the samples, so one noisy sample decides nothing);
// - file descriptors: with every client gone, no node holds more than it did at the baseline;
// - latency: the p99 of echo round trips in the last third is at most 1.5x that of the first;
// - nothing lost: every checked receiver saw every broadcast once, in order, and no churning
//   client failed.

/** Thresholds of the pass criteria. */
export const CRITERIA = Object.freeze({ maxGrowth: 0.05, maxP99Ratio: 1.5 });

/** The q-quantile (0..1) of numbers, nearest rank; null for none. */
export function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/**
 * Relative growth of `y` over the time span of `points` ({t, y}), read off a least-squares line:
 * (line(end) - line(start)) / line(start). Null with fewer than 3 points.
 */
export function fittedGrowth(points) {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  const t0 = points[0].t;
  const t1 = points[n - 1].t;
  const start = my + slope * (t0 - mt);
  const end = my + slope * (t1 - mt);
  return start > 0 ? (end - start) / start : null;
}

/** Splits [from, to) into three equal windows: [[a, b], [b, c], [c, d]]. */
export function thirds(from, to) {
  const step = (to - from) / 3;
  return [0, 1, 2].map((i) => [from + i * step, from + (i + 1) * step]);
}

/**
 * The verdict of a run. `run` holds: `warmupEndMs`, `endMs` (times relative to the start),
 * `samples` [{t, node, rss, heapUsed, fds}], `latencies` [{t, ms}], `fds` {baseline: {node: n},
 * final: {node: n}}, `delivery` {gaps, duplicates, missingAtEnd, receivers}, `churn` {failed}.
 */
export function verdict(run) {
  const windows = thirds(run.warmupEndMs, run.endMs);
  const lastTwoFrom = windows[1][0];
  const nodes = [...new Set(run.samples.map((s) => s.node))].sort();
  const memory = {};
  for (const node of nodes) {
    const mine = run.samples.filter((s) => s.node === node && s.t >= lastTwoFrom && s.t <= run.endMs);
    memory[node] = {
      rssGrowth: fittedGrowth(mine.map((s) => ({ t: s.t, y: s.rss }))),
      heapGrowth: fittedGrowth(mine.map((s) => ({ t: s.t, y: s.heapUsed }))),
      // Reported, not judged: the heap without V8's compiled code, where the server's objects live.
      heapWithoutCodeGrowth: mine.every((s) => typeof s.codeSpace === 'number')
        ? fittedGrowth(mine.map((s) => ({ t: s.t, y: s.heapUsed - s.codeSpace })))
        : null,
      samples: mine.length,
    };
  }
  const inWindow = ([a, b]) => run.latencies.filter((l) => l.t >= a && l.t < b).map((l) => l.ms);
  const p99 = windows.map((w) => quantile(inWindow(w), 0.99));
  const p50 = windows.map((w) => quantile(inWindow(w), 0.5));
  const p99Ratio = p99[0] && p99[2] !== null ? p99[2] / p99[0] : null;
  const fdLeaks = {};
  for (const node of Object.keys(run.fds.baseline)) {
    fdLeaks[node] = (run.fds.final[node] ?? Number.POSITIVE_INFINITY) - run.fds.baseline[node];
  }
  const checks = {
    memoryFlat: nodes.every((node) => {
      const m = memory[node];
      return (
        m.rssGrowth !== null &&
        m.heapGrowth !== null &&
        m.rssGrowth < CRITERIA.maxGrowth &&
        m.heapGrowth < CRITERIA.maxGrowth
      );
    }),
    noFdLeak: Object.values(fdLeaks).every((d) => d <= 0),
    latencyStable: p99Ratio !== null && p99Ratio <= CRITERIA.maxP99Ratio,
    nothingLost:
      run.delivery.gaps === 0 &&
      run.delivery.duplicates === 0 &&
      run.delivery.missingAtEnd === 0 &&
      run.churn.failed === 0,
  };
  return {
    pass: Object.values(checks).every(Boolean),
    checks,
    windows,
    memory,
    fdLeaks,
    latency: { p50ByThird: p50, p99ByThird: p99, p99Ratio },
  };
}
