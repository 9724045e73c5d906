// Medians, the docs/benchmarks.md table and a dependency-free SVG chart.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { chatBenchSection } from '../chat/report.mjs';
import { latestChatFairnessSection } from './report-chat.mjs';
import { EXTRA_PEERS, extraSections, newestVmResult, vmSection } from './report-extra.mjs';
import { targetsSection } from './report-targets.mjs';
import { SCENARIOS } from './scenarios.mjs';

const FIELDS = [
  'serverUsPerMsg',
  'serverSysUsPerMsg',
  'loadgenUsPerMsg',
  'instructionsPerMsg',
  'ratePerSec',
  'rssPerConn',
  'heapPerConn',
  'p50',
  'p99',
  'lost',
  'dup',
  'errors',
  'failed',
  'closed',
  'msgs',
  'otherCpuUs',
  'otherShare',
  'softirqUs',
  'attempt',
  'quietWaitMs',
  'rss',
  'connections',
  'backplaneUsPerMsg',
  'serverCoreShare',
  'timeouts',
  'pings',
];

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** {scenario: {peer: {field: {median, min, max, n}}}} over the repetitions. */
export function summarize(samples) {
  const out = {};
  for (const [sc, byPeer] of Object.entries(samples)) {
    out[sc] = {};
    for (const [peer, list] of Object.entries(byPeer)) {
      const s = {};
      for (const f of FIELDS) {
        const xs = list.map((r) => r[f]).filter((v) => typeof v === 'number' && Number.isFinite(v));
        if (xs.length)
          s[f] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
      }
      out[sc][peer] = s;
    }
  }
  return out;
}

const ORDER = [
  'echo',
  'broadcast_1k',
  'broadcast_5k',
  'broadcast_20k',
  'groups',
  'storm',
  'idle_rss_1k',
  'idle_rss',
  'idle_rss_settled',
  'idle_rss_20k',
];
const COLORS = { ws: '#8c8c8c', socketio: '#e0a030', switchboard: '#2f6fdf' };
const TARGETS = {
  echo: { ws: '17.5 µs', socketio: '35 µs' },
  broadcast_1k: { ws: '9–12 µs', socketio: '13–16 µs' },
  broadcast_5k: { ws: '9–12 µs', socketio: '13–16 µs' },
  broadcast_20k: { ws: '9–12 µs', socketio: '13–16 µs' },
  idle_rss: { ws: '8.5 KiB', socketio: '17 KiB' },
};

const num = (x, d = 2) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
function cell(s, f, scale = 1, d = 2) {
  const v = s?.[f];
  if (!v) return 'n/a';
  return `${num(v.median / scale, d)} (${num(v.min / scale, d)}–${num(v.max / scale, d)})`;
}
const isRss = (sc) => sc.startsWith('idle_rss');

/** A pointer to the soak's page (bench/soak), when it exists. */
function soakLink(root) {
  if (!existsSync(join(root, 'docs', 'soak.md'))) return '';
  return `## Soak

Two nodes on Redis under churn for an hour, memory, descriptors and latency checked: [soak.md](soak.md).

`;
}

/** A pointer to the MessagePack codec micro-benchmark (bench/codec), when its page exists. */
function codecLink(root) {
  if (!existsSync(join(root, 'docs', 'benchmarks-codec.md'))) return '';
  return `## MessagePack codecs

The MessagePack codecs compared in a micro-benchmark (ns and instructions per operation, with a
correctness check against the official client's parser): [benchmarks-codec.md](benchmarks-codec.md).

`;
}

/**
 * The fairness section (bench/fairness.mjs, run by hand) and the callgrind section
 * (bench/callgrind/run.mjs, run by hand): kept from the current docs/benchmarks.md
 * when the page is rewritten, since a full run does not measure it.
 */
function fairnessSection(root) {
  return (
    handSection(root, 'Fairness under a flood') + handSection(root, 'Instructions per operation (callgrind)')
  );
}

/** A section of the current docs/benchmarks.md by its title (with what follows up to the next one). */
function handSection(root, title) {
  const path = join(root, 'docs', 'benchmarks.md');
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(`\n## ${title}`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return `${text.slice(start + 1, end < 0 ? text.length : end + 1).trimEnd()}\n\n`;
}

/**
 * The section of bench/c100k.mjs (100,000 connections on the conformance server's workers, run by
 * hand): kept from the current docs/benchmarks.md when the page is rewritten.
 */
function c100kSection(root) {
  const path = join(root, 'docs', 'benchmarks.md');
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf('\n## 100,000 connections on one machine, several workers');
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return `${text.slice(start + 1, end < 0 ? text.length : end + 1).trimEnd()}\n\n`;
}

/** Rewrites docs/benchmarks.md and bench/results/chart.svg from one result; returns the md path. */
export function writeDocs(result, root, resultPath) {
  const vm = newestVmResult(join(root, 'bench', 'results'));
  // The main tables and the chart: the WebSocket peers; the other sessions have sections of their own.
  const peers = Object.keys(result.peers).filter((p) => !EXTRA_PEERS.has(p));
  const scen = ORDER.filter((sc) => result.summary[sc]);
  const m = result.machine;
  const svgPath = join(root, 'bench', 'results', 'chart.svg');
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(svgPath, chart(result, peers, scen));
  const head = `| Scenario | per | ${peers.map((p) => result.peers[p]).join(' | ')} |\n|---|---|${peers.map(() => '---:|').join('')}\n`;
  const rows = (f, scale, d, unitFn) =>
    scen
      .map((sc) => {
        const u = unitFn(sc);
        if (!u) return null;
        const cells = peers.map((p) => cell(result.summary[sc][p], f(sc), scale(sc), d));
        return `| ${result.scenarios[sc].title} | ${u} | ${cells.join(' | ')} |`;
      })
      .filter(Boolean)
      .join('\n');
  const mainTable =
    head +
    rows(
      (sc) => result.scenarios[sc].main,
      (sc) => (isRss(sc) ? 1024 : 1),
      2,
      (sc) => (isRss(sc) ? 'KiB RSS / connection' : `µs server CPU / ${result.scenarios[sc].unit}`),
    );
  const rateTable =
    head +
    rows(
      () => 'ratePerSec',
      () => 1000,
      1,
      (sc) => (isRss(sc) ? null : `thousand ${result.scenarios[sc].unit.replace(/y$/, 'ie')}s / s`),
    );
  const genTable =
    head +
    rows(
      () => 'loadgenUsPerMsg',
      () => 1,
      2,
      (sc) => (isRss(sc) ? null : `µs generator CPU / ${result.scenarios[sc].unit}`),
    );
  const losses = [];
  for (const sc of Object.keys(result.summary))
    for (const p of Object.keys(result.summary[sc])) {
      const s = result.summary[sc][p];
      for (const f of ['lost', 'dup', 'errors', 'failed', 'closed', 'timeouts'])
        if (s?.[f]?.max > 0) losses.push(`${sc}/${p}: ${f} up to ${s[f].max}`);
    }
  let contended = 0;
  let retried = 0;
  for (const byPeer of Object.values(result.samples))
    for (const list of Object.values(byPeer))
      for (const r of list) {
        if (r.contended) contended++;
        if (r.attempt > 1) retried++;
      }
  const shares = scen
    .flatMap((sc) => peers.map((p) => result.summary[sc][p]?.otherShare?.median))
    .filter((x) => x !== undefined);
  const other = shares.length
    ? `${Math.round(100 * Math.min(...shares))}–${Math.round(100 * Math.max(...shares))} %`
    : 'n/a';
  // Marginal RSS between the smallest and the largest idle measurement: fixed costs cancel out.
  const rssPts = ['idle_rss_1k', 'idle_rss', 'idle_rss_20k'].filter((sc) => result.summary[sc]);
  const marginal =
    rssPts.length > 1
      ? peers
          .map((p) => {
            const lo = result.summary[rssPts[0]][p];
            const hi = result.summary[rssPts.at(-1)][p];
            if (!lo?.rss || !hi?.rss) return `${result.peers[p]} n/a`;
            const kib =
              (hi.rss.median - lo.rss.median) / (hi.connections.median - lo.connections.median) / 1024;
            return `${result.peers[p]} ${kib.toFixed(1)} KiB`;
          })
          .join(', ')
      : null;
  const missing = Object.keys(SCENARIOS).filter((sc) => !result.summary[sc]);
  const latency = peers.map((p) => cell(result.summary.echo?.[p], 'p50', 1, 0)).join(' | ');
  const latency99 = peers.map((p) => cell(result.summary.echo?.[p], 'p99', 1, 0)).join(' | ');
  const targets = Object.entries(TARGETS)
    .map(([sc, t]) => `| ${result.scenarios[sc]?.title ?? sc} | ${t.ws} | ${t.socketio} |`)
    .join('\n');
  const md = `# Benchmarks

Generated by \`npm run bench\` (bench/run.mjs) on ${result.startedAt.slice(0, 10)}; do not edit by hand.
Raw figures: [\`${relative(root, resultPath)}\`](../${relative(root, resultPath)}).

**Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}.
**Commit:** \`${m.gitCommit?.slice(0, 12)}\`${m.gitDirty ? ' (the work tree had uncommitted changes; Switchboard ran from the dist built at that time)' : ''}.
**Method:** ${result.method.reps} interleaved repetitions${result.complete === false ? ` (of ${result.method.repsPlanned} planned: the run was cut short)` : ''} (every peer runs a scenario before any runs it again),
medians with min–max; servers (both nodes of a two-node session, and its Redis) on core 0, load generator on core 1
${result.method.pinning.off ? `(pinning off: ${result.method.pinning.off})` : '(taskset)'}; each peer is its own process, restarted for every session.
Switchboard runs with \`@opentelemetry/api\` only (no SDK registered: no instrument installed, one non-recording span check per invocation); the cost with the SDK is in [benchmarks-otel.md](benchmarks-otel.md).
Messages carry a 128-byte string argument. Instructions per message: ${
    result.method.perfInstructions === true
      ? 'see the JSON'
      : `not recorded (${result.method.perfInstructions.off})`
  }.${
    Object.keys(result.skippedPeers).length
      ? `\n**Not run:** ${Object.entries(result.skippedPeers)
          .map(([p, w]) => `${p} (${w.split('\n')[0].slice(0, 120)})`)
          .join('; ')}.`
      : ''
  }

${targetsSection(result, vm)}
![Server CPU per message and RSS per idle connection](../bench/results/chart.svg)

## Server CPU per message, and memory per idle connection

Server CPU time is utime + stime of the server process (/proc/<pid>/stat, 10 ms ticks) over the
measured window, divided by the messages delivered at the receivers (echo: completed round trips;
storm: completed negotiate + upgrade + handshake). Lower is better.

${mainTable}

${
  marginal
    ? `Marginal RSS per idle connection, from ${result.scenarios[rssPts[0]].title.toLowerCase()} to ${result.scenarios[rssPts.at(-1)].title.toLowerCase()} (medians): ${marginal}.

`
    : ''
}## Throughput (wall clock, limited by the one-core load generator)

${rateTable}

Echo latency at the client, µs, p50: ${latency}; p99: ${latency99} (same peer order).

## Load generator CPU (its own core)

When the generator costs more per message than the server, throughput is the generator's, not the
server's; the CPU-per-message figures above stay valid because they do not depend on the rate.

${genTable}

${extraSections(result)}${vmSection(vm)}${codecLink(root)}${fairnessSection(root)}${c100kSection(root)}${latestChatFairnessSection(root)}${chatBenchSection(root)}${soakLink(root)}${
  missing.length
    ? `Not measured in this run (the harness has them; the next full run fills them in): ${missing.map((sc) => SCENARIOS[sc].title).join('; ')}.${bigNote(result)}\n\n`
    : ''
}## Delivery check

Every receiver is checked for exactly the expected number of messages after each run.
${losses.length ? losses.map((l) => `- ${l}`).join('\n') : 'No losses, duplicates, errors or dropped connections.'}${
  result.failures?.length
    ? `\n\nSessions that failed (no figures from them):\n${result.failures.map((f) => `- rep ${f.rep}, ${f.session}, ${f.peer}: ${f.error.split('\n')[0].slice(0, 200)}`).join('\n')}`
    : ''
}

## Notes on fairness

- The same trigger for every peer: one extra client (connection 0, itself a receiver) sends a
  message that the server fans out to all (or to one group). The raw \`ws\` peer takes a one-letter
  prefix instead of JSON and writes the received buffer back unchanged: it is the floor.
- Socket.IO runs the websocket transport only (its long-polling peer: polling only) and has no
  negotiate step; Switchboard clients negotiate (\`POST /bench/negotiate?negotiateVersion=1\`)
  before upgrading or opening their HTTP transport, in every scenario.
- CPU time not charged to the server or the generator during the measured windows (softirq work
  plus any other process on this shared machine), as a share of one core, medians per scenario:
  ${other}. Before each window the harness waits (up to ${(result.method.quietWaitMs ?? 20000) / 1000} s) for other load to drop under 15 %
  of a core, and repeats a window (at most ${result.method.retries ?? 1} time(s)) when other load took over 30 %:
  ${retried} window(s) were repeated, ${contended} stayed above 30 % and are kept in the figures. Loopback TCP receive processing partly runs in softirq context and is not always
  charged to the process that caused it, so absolute figures undercount the kernel's share.
- RSS per connection = (RSS after connecting and a full GC − RSS of the fresh server) / connections,
  read 1 s after the last handshake: it still holds what the connect burst grew (V8's young
  generation) and the code compiled for the first connections. The "settled" row is the idle
  figure: the server first serves a warm-up of 200 connections opened and closed, and both
  readings (before and after the 5,000 connect) are taken once RSS is steady after V8's memory
  reducer has run (a full GC and a reading every 2 s until one is within 1 % of the one before,
  8–30 s). Kernel socket buffers are not in RSS.

## Orientation figures from issue #8

| Scenario | ws | Socket.IO |
|---|---:|---:|
${targets}
`;
  const mdPath = join(root, 'docs', 'benchmarks.md');
  writeFileSync(mdPath, md);
  return mdPath;
}

/** Where the 100k session did not run: the connection count the fd limit of this run allows. */
function bigNote(result) {
  const fd = result.method.fdLimit;
  if (result.summary.idle_max || !fd || fd - 500 >= 100000) return '';
  return ` The 100,000-connection session runs at min(100,000, RLIMIT_NOFILE hard limit − 500) connections: ${(fd - 500).toLocaleString('en-US')} with this run's hard limit of ${fd.toLocaleString('en-US')}, which an unprivileged process (no CAP_SYS_RESOURCE) cannot raise.`;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Two panels of horizontal grouped bars with min–max whiskers. */
function chart(result, peers, scen) {
  const panels = [
    {
      title: 'Server CPU per message (µs, lower is better)',
      list: scen.filter((s) => !isRss(s) && s !== 'storm'),
      f: 'serverUsPerMsg',
      scale: 1,
    },
    {
      title: 'Connection storm: server CPU per connection (µs)',
      list: scen.filter((s) => s === 'storm'),
      f: 'serverUsPerMsg',
      scale: 1,
    },
    { title: 'RSS per idle connection (KiB)', list: scen.filter(isRss), f: 'rssPerConn', scale: 1024 },
  ].filter((p) => p.list.length);
  const W = 760;
  const left = 230;
  const barH = 12;
  const parts = [];
  let y = 10;
  parts.push(
    ...peers.map(
      (p, i) =>
        `<rect x="${left + i * 150}" y="${y}" width="12" height="12" fill="${COLORS[p] ?? '#555'}"/><text x="${left + i * 150 + 18}" y="${y + 10}">${esc(result.peers[p])}</text>`,
    ),
  );
  y += 30;
  for (const panel of panels) {
    const vals = panel.list.flatMap((sc) => peers.map((p) => result.summary[sc][p]?.[panel.f]?.max ?? 0));
    const max = Math.max(...vals, 1e-9) * 1.1;
    const sx = (v) => left + (v / panel.scale / (max / panel.scale)) * (W - left - 70);
    parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(panel.title)}</text>`);
    y += 24;
    for (const sc of panel.list) {
      parts.push(
        `<text x="10" y="${y + (peers.length * barH) / 2 + 4}">${esc(result.scenarios[sc].title)}</text>`,
      );
      peers.forEach((p, i) => {
        const s = result.summary[sc][p]?.[panel.f];
        const by = y + i * barH;
        if (!s) return;
        parts.push(
          `<rect x="${left}" y="${by}" width="${(sx(s.median) - left).toFixed(1)}" height="${barH - 2}" fill="${COLORS[p] ?? '#555'}"/>`,
          `<line x1="${sx(s.min).toFixed(1)}" x2="${sx(s.max).toFixed(1)}" y1="${by + 5}" y2="${by + 5}" stroke="#000"/>`,
          `<text x="${(sx(s.max) + 4).toFixed(1)}" y="${by + 9}" font-size="10">${num(s.median / panel.scale)}</text>`,
        );
      });
      y += peers.length * barH + 8;
    }
    y += 12;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}

/** Loads a result file (used by compare.mjs). */
export function loadResult(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * Rewrites only the "## Two nodes" section of docs/benchmarks.md from a result holding the
 * two-node session (`--sessions cluster`), naming its file, commit and the machine's load; the
 * rest of the page stays as the last full run wrote it. Returns the page's path.
 */
export function writeClusterSection(result, root, resultPath) {
  const page = join(root, 'docs', 'benchmarks.md');
  const text = readFileSync(page, 'utf8');
  const section = extraSections({ ...result, summary: { cluster_5k: result.summary.cluster_5k } })
    .split(/\n(?=## )/)
    .find((s) => s.startsWith('## Two nodes'));
  if (!section) throw new Error(`${resultPath} holds no two-node session`);
  const m = result.machine;
  const load = result.load
    ? `load average ${result.load.start.join(' / ')} (1 / 5 / 15 min) at the start, ${result.load.written.join(' / ')} at the end`
    : 'machine load not recorded';
  const reps = `${result.method.reps} interleaved repetition${result.method.reps === 1 ? '' : 's'}${result.complete ? '' : ` of ${result.method.repsPlanned} planned (stopped)`}`;
  const busy =
    result.load && result.load.start[0] > m.cores
      ? ' The machine was busy with other work (load above its cores): every figure includes waiting for a CPU and single repetitions are noisy; rerun on a quiet machine for figures to hold against the 1.1× target.'
      : '';
  const about = `Run on its own (\`--sessions cluster\`, ${reps}) on ${result.startedAt.slice(0, 10)}, commit \`${m.gitCommit?.slice(0, 12)}\`${m.gitDirty ? ' (work tree with uncommitted changes)' : ''}, ${m.cores} cores shared with other work: ${load}. Raw figures: [\`${relative(root, resultPath)}\`](../${relative(root, resultPath)}).${busy}\n\n`;
  const body = section.replace(/\n\n/, `\n\n${about}`).trimEnd();
  const start = text.indexOf('## Two nodes');
  if (start < 0) throw new Error('docs/benchmarks.md has no "## Two nodes" section');
  const end = text.indexOf('\n## ', start + 1);
  writeFileSync(page, `${text.slice(0, start)}${body}\n${end < 0 ? '' : text.slice(end)}`);
  return page;
}
