// The short fuzzing run of `npm test`: every target replays its committed corpus, then tries a
// fixed number of mutated inputs from a fixed seed, so the run is the same every time. The long run
// is `npm run fuzz -- --minutes N` (docs/fuzzing.md).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { describeFinding, fuzz } from '../src/engine.js';
import { targets } from '../src/targets/index.js';

const corpusRoot = new URL('../corpus/', import.meta.url).pathname;
/** Mutated inputs per target: fewer where each input is several HTTP requests. */
const runs: Record<string, number> = { 'long-polling': 25, 'server-sent-events': 25 };

for (const target of targets) {
  const count = runs[target.name] ?? 250;
  test(`${target.name}: the corpus and ${count} mutated inputs (seed 1) break no invariant`, async () => {
    const report = await fuzz(target, { seed: 1, runs: count, corpusDir: join(corpusRoot, target.name) });
    assert.deepEqual(report.findings.map(describeFinding), []);
    assert.ok(report.executions >= count, `only ${report.executions} inputs ran`);
    assert.ok(report.features > 0, 'no coverage was recorded');
  });
}
