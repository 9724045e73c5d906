// A node:test reporter that adds up the time of each file's top-level tests and counts results,
// written as one JSON object when the run ends (read by scripts/run-tests.mjs).
export default async function* testTimesReporter(source) {
  const summary = { files: {}, passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const isSuite = data.details?.type === 'suite';
    if (data.nesting === 0 && data.file) {
      summary.files[data.file] = (summary.files[data.file] ?? 0) + (data.details?.duration_ms ?? 0);
    }
    // A suite fails on its own when a hook of it fails (an after-hook's assertion, say): that counts
    // as a failure; one that failed because a test inside it did is counted by that test.
    if (isSuite) {
      if (event.type === 'test:fail' && data.details?.error?.failureType !== 'subtestsFailed')
        summary.failed++;
      continue;
    }
    if (data.skip || data.todo) summary.skipped++;
    else if (event.type === 'test:pass') summary.passed++;
    else summary.failed++;
  }
  yield `${JSON.stringify(summary)}\n`;
}
