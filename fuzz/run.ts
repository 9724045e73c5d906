/**
 * The long fuzzing run, by hand: `npm run fuzz -- --minutes 30 [--target json-hub-protocol]
 * [--seed 7]`. The time is shared between the targets; inputs that reach new code are added to
 * fuzz/corpus/<target>/ (commit them), and inputs that break an invariant are written to
 * fuzz/findings/<target>/ and printed.
 * @module
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeFinding, fuzz } from './src/engine.js';
import { targets } from './src/targets/index.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
});
const here = new URL('.', import.meta.url).pathname;
const chosen = values.target ? targets.filter((t) => values.target!.includes(t.name)) : targets;
if (chosen.length === 0) {
  console.error(`no such target; the targets are: ${targets.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
const share = (Number(values.minutes) * 60_000) / chosen.length;
const seed = Number(values.seed);
console.log(`fuzzing ${chosen.length} target(s), ${(share / 1000).toFixed(0)} s each, seed ${seed}`);

let failed = 0;
for (const target of chosen) {
  const report = await fuzz(target, {
    seed,
    deadline: Date.now() + share,
    corpusDir: join(here, 'corpus', target.name),
    findingsDir: join(here, 'findings', target.name),
    save: true,
    stopOnFinding: false,
  });
  const rate = Math.round(report.executions / (report.milliseconds / 1000));
  console.log(
    `${target.name}: ${report.executions} executions (${rate}/s), corpus ${report.corpusSize} (+${report.added}), ${report.features} coverage features, ${report.findings.length} finding(s)`,
  );
  for (const finding of report.findings) console.log(describeFinding(finding));
  failed += report.findings.length;
}
process.exit(failed > 0 ? 1 : 0);
