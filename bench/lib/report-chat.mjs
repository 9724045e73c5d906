// The section of docs/benchmarks.md for bench/chat-fairness.mjs: the chat under one abusive user
// (issue #18). Rendered from the newest bench/results/chat-fairness-*.json, both when that script
// runs with --docs and when run.mjs rewrites the whole page.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const TITLE = '## The chat under one abusive user';

/** The section's markdown for one result (`resultPath` relative to the repository). */
export function chatFairnessSection(result, resultPath) {
  const rows = result.cases
    .map((c) => {
      const a = c.abuser;
      const abuser = a
        ? `${a.sent.toLocaleString('en')} sent, ${a.answered.toLocaleString('en')} answered (${a.refusals.toLocaleString('en')} refused), ${a.reconnects} reconnects`
        : '—';
      return `| ${c.title} | ${c.p50.toFixed(1)} | ${c.p99.toFixed(1)} | ${c.max.toFixed(1)} | ${c.samples} | ${abuser} |`;
    })
    .join('\n');
  const defaults = result.cases.find((c) => c.name === 'defaults');
  const verdict = defaults
    ? `With the default limits the victim's p99 was ${defaults.p99.toFixed(0)} ms: the target is ${defaults.p99 < 100 ? 'met' : 'not met in this run'}.`
    : '';
  return `${TITLE}

\`npm run bench:chat-fairness\` (bench/chat-fairness.mjs, issue #18 finding 1): the chat server in
its own process on SQLite with its default limits; one user holds ${result.connections} WebSockets
and sends ${result.perFrame.toLocaleString('en')} \`listRooms\` invocations in one frame on each,
again as soon as they are answered, reconnecting when the server closes the socket (a worker
thread of the harness); the user is in ${result.rooms} rooms, each with a message. Another user
(the official client) invokes \`listRooms\` every 20 ms for ${result.seconds} s: its latency is the
figure. Target: p99 under 100 ms. ${result.at.slice(0, 10)}, Node ${result.node}, ${result.cpus}
cores shared with other work: load average ${result.loadBefore?.toFixed(1)} before the run,
${result.loadAfter?.toFixed(1)} after ([${resultPath}](../${resultPath})).

| case | victim p50 ms | p99 ms | max ms | invokes | abuser |
| --- | ---: | ---: | ---: | ---: | --- |
${rows}

${verdict}

${
  result.loadBefore > result.cpus
    ? `This run's machine was busy with other work (load average above its ${result.cpus} cores), so every row includes waiting for a CPU; the first row (no abuser) shows how much. Compare the rows with each other, and rerun on a quiet machine for the absolute figures.\n\n`
    : ''
}What keeps the victim served: the hub server reads each connection a budget of messages per
turn of the event loop and stops reading one whose queue of parsed invocations is full; the SQLite
storage's statements share a 4 ms budget per turn (past it the next statement waits for the next
turn, after pending I/O, each waiting caller in turn); and \`INVOKE_RATE_LIMIT\` (30 per second
per user, burst 300) refuses most of the flood cheaply and closes a connection that keeps going
past it.

`;
}

/** The section from the newest result file, or '' when there is none. */
export function latestChatFairnessSection(root) {
  const dir = join(root, 'bench', 'results');
  if (!existsSync(dir)) return '';
  const files = readdirSync(dir)
    .filter((f) => /^chat-fairness-.*\.json$/.test(f))
    .sort();
  const newest = files.at(-1);
  if (!newest) return '';
  const result = JSON.parse(readFileSync(join(dir, newest), 'utf8'));
  return chatFairnessSection(result, `bench/results/${newest}`);
}

/** Puts the section into docs/benchmarks.md: in place of the old one, else before "## Delivery check". */
export function writeChatFairnessSection(docPath, result, resultPath) {
  const text = readFileSync(docPath, 'utf8');
  const section = chatFairnessSection(result, resultPath);
  const start = text.indexOf(TITLE);
  let next;
  if (start >= 0) {
    const end = text.indexOf('\n## ', start + TITLE.length);
    next = `${text.slice(0, start)}${section}${end >= 0 ? text.slice(end + 1) : ''}`;
  } else {
    const at = text.indexOf('## Delivery check');
    next = at >= 0 ? `${text.slice(0, at)}${section}${text.slice(at)}` : `${text}\n${section}`;
  }
  writeFileSync(docPath, next);
}
