// docs/soak.md, written from the newest soak result by `npm run soak` (unless --out sends the
// result elsewhere): what runs, the pass criteria, and the figures of that run next to them.
import { CRITERIA } from './analyse.mjs';

const pct = (x) => (x === null || x === undefined ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const ms = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(1)} ms`);
const ok = (b) => (b ? 'met' : '**missed**');

/** The Markdown of docs/soak.md for `result`, whose files are `jsonName` and `svgName` in bench/results. */
export function soakDoc(result, jsonName, svgName) {
  const v = result.verdict;
  const c = result.config;
  const s = result.summary;
  const nodes = Object.keys(v.memory).sort();
  const memoryRows = nodes
    .map(
      (n) =>
        `| ${n} | ${pct(v.memory[n].rssGrowth)} | ${pct(v.memory[n].heapGrowth)} | ${pct(v.memory[n].heapWithoutCodeGrowth)} | ${v.fdLeaks[n]} |`,
    )
    .join('\n');
  const [p1, p2, p3] = v.latency.p99ByThird;
  const [m1, m2, m3] = v.latency.p50ByThird;
  const sent = Object.entries(s.broadcastsSent)
    .map(([b, n]) => `${n} ${b}`)
    .join(', ');
  const host = result.run.host ?? [];
  const loads = host.map((h) => h.load1).sort((a, b) => a - b);
  const delays = host.map((h) => h.driverLoopP99Ms).sort((a, b) => a - b);
  const hostLine = host.length
    ? `The machine's 1-minute load average during the run: ${loads[0].toFixed(1)} to ${loads[loads.length - 1].toFixed(1)} (median ${loads[Math.floor(loads.length / 2)].toFixed(1)}) on ${result.machine.cores} cores; the driver's own event-loop delay, p99 per sample, median ${delays[Math.floor(delays.length / 2)].toFixed(0)} ms. Latency figures from a loaded machine say more about the machine than about the server.`
    : 'The run did not record the machine load.';
  // A remark added to the result file by whoever ran it (what the file itself could not record).
  const note = result.note ? `\n\nNote on this run: ${result.note}` : '';
  const closed = s.closedReceivers?.length
    ? `\n\nReceivers closed during the run (each counts as lost, and their missing broadcasts too):\n${s.closedReceivers.map((r) => `- ${r.name} at ${(r.atMs / 60000).toFixed(1)} min: ${r.error}`).join('\n')}`
    : '';
  return `# Soak

\`npm run soak -- --minutes N\` (bench/soak/) runs two conformance nodes on one Redis with
stateful reconnects on, and official clients against them for N minutes:
${c.receiversPerNode} receivers per node that stay the whole run (WebSockets with JSON and
MessagePack, Server-Sent Events, long polling with JSON and MessagePack), ${c.statefulPerNode}
stateful-reconnect WebSocket receivers per node behind a TCP proxy that cuts every socket on one
node's proxy every ${c.cutIntervalS} s, ${c.churnConcurrency} churning clients at all times (random
node and transport, half signed in as one of 50 users: connect, invoke, join a group, send to it,
leave it, stop), one broadcaster per node sending ${c.broadcastsPerSecond} numbered messages a
second to every connection, and an echo probe from every receiver every ${c.probeIntervalMs} ms.
Every ${c.sampleIntervalS} s each node reports its RSS and its live heap (after a full garbage
collection) and its open file descriptors.

Pass criteria, after a warm-up (\`--warmup-s\`, else a tenth of the run and at least 30 s; this
run: ${(result.run.warmupEndMs / 60000).toFixed(1)} min). Bounded caches fill during it: each node's
duplicate-drop window keeps the envelope ids of the last 5 minutes per hub (at most 10,000), so a
run judged on memory wants \`--warmup-s 600\`:
- RSS and live heap of every node grow by less than ${CRITERIA.maxGrowth * 100} % over the last two
  thirds (read off a least-squares line through the samples);
- no file descriptor leaked: with every client gone (and ${c.quiesceS ?? 12} s for keep-alive sockets to
  close), no node holds more descriptors than at the baseline taken the same way before the run;
- the p99 echo round trip of the last third is at most ${CRITERIA.maxP99Ratio}x that of the first;
- nothing lost: every checked receiver saw every broadcast once and in order, including the
  stateful ones across every cut, and no churning client failed.

## Newest run: ${v.pass ? 'pass' : '**fail**'}

${result.startedAt}, ${c.minutes} minutes, commit \`${result.machine.gitCommit?.slice(0, 12)}\`${
    result.machine.gitDirty ? ' (with uncommitted changes)' : ''
  }, ${result.machine.cores} cores (${result.machine.cpuModel}), Node ${result.machine.node}. Result
[\`bench/results/${jsonName}\`](../bench/results/${jsonName}).

![Memory per node and echo latency per minute](../bench/results/${svgName})

| criterion | figure | |
| --- | --- | --- |
| memory flat | see the table below | ${ok(v.checks.memoryFlat)} |
| no descriptor leaked | ${Object.entries(v.fdLeaks)
    .map(([n, d]) => `${n}: ${d >= 0 ? '+' : ''}${d}`)
    .join(', ')} | ${ok(v.checks.noFdLeak)} |
| p99 last third / first third | ${ms(p3)} / ${ms(p1)} = ${v.latency.p99Ratio?.toFixed(2) ?? 'n/a'}x (middle third ${ms(p2)}) | ${ok(v.checks.latencyStable)} |
| nothing lost | ${s.delivery.gaps} gaps, ${s.delivery.duplicates} duplicates, ${s.delivery.missingAtEnd} missing at the end, ${s.churn.failed} failed clients | ${ok(v.checks.nothingLost)} |

| node | RSS growth | live heap growth | of which not compiled code | descriptors after - before |
| --- | ---: | ---: | ---: | ---: |
${memoryRows}

Echo p50 by third: ${ms(m1)}, ${ms(m2)}, ${ms(m3)}. Broadcasts acknowledged: ${sent}, each checked at
${s.delivery.receivers} receivers; ${s.proxyCuts} proxy cuts; ${s.churn.completed} churning clients
came and went; ${s.probes} echo probes (${s.probeErrors} failed).${
    s.churn.errors.length
      ? ` Errors of failed churning clients (first ${s.churn.errors.length}): ${[...new Set(s.churn.errors)].map((e) => `"${e}"`).join('; ')}.`
      : ''
  }${closed}

${hostLine}${note}
`;
}
