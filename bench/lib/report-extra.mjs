// docs/benchmarks.md sections for the sessions with their own peer sets: MessagePack, the HTTP
// transports, two nodes, and the 100k session. Long-form tables (one row per scenario and peer),
// each with the ratio to the session's baseline peer.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Peers that only run in the sessions naming them (lib/scenarios.mjs `extra`). */
export const EXTRA_PEERS = new Set([
  'switchboard-msgpack',
  'switchboard-sse',
  'switchboard-lp',
  'socketio-lp',
  'ws-redis',
  'socketio-redis',
  'switchboard-redis',
  'ws-postgres',
  'switchboard-postgres',
  'ws-nats',
  'switchboard-nats',
]);

/** Scenarios reported here rather than in the main table, with the baseline of each ratio. */
const GROUPS = [
  {
    title: 'MessagePack and JSON over WebSockets',
    scenarios: ['msgpack_1k', 'msgpack_5k'],
    base: 'ws',
    note: 'The same hub and broadcast; Switchboard clients speak JSON or MessagePack (binary frames).',
  },
  {
    title: 'Server-Sent Events and long polling',
    scenarios: ['http_1k'],
    base: 'socketio-lp',
    note:
      'Receivers hold an event stream (SSE) or a long poll each; sends are POSTs, one at a time per ' +
      'connection. Socket.IO runs its polling transport only. The `ws` row is the WebSocket floor. ' +
      'Fewer receivers than the WebSocket fan-outs: every long-poll delivery costs an HTTP round trip.',
  },
  {
    title: 'Two nodes',
    scenarios: ['cluster_5k'],
    base: 'ws-redis',
    note:
      'Clients alternate between two server processes; connection 0 (node 1) sends. Server CPU is the ' +
      'sum over both nodes. Every backplane is compared with a raw `ws` pair on the same backend (each ' +
      'node publishes a broadcast to one channel and writes what it receives there to its own ' +
      'clients): Redis pub/sub, PostgreSQL `pg_notify`/LISTEN, core NATS pub/sub. Redis and NATS are ' +
      'servers of the harness’s own, on the servers’ core. Backplane CPU, reported apart from the ' +
      'servers’: that redis-server or nats-server, or the PostgreSQL backends of the two nodes’ ' +
      'connections (found by application_name; PostgreSQL’s shared background processes are not ' +
      'counted). Target: each backplane within 1.1× of its pair.',
    // The ratio of each peer, to the raw pair on its backend.
    pairs: {
      'socketio-redis': 'ws-redis',
      'switchboard-redis': 'ws-redis',
      'switchboard-postgres': 'ws-postgres',
      'switchboard-nats': 'ws-nats',
    },
    backplane: true,
  },
];

const f2 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
const range = (s, scale = 1) =>
  s ? `${f2(s.median / scale)} (${f2(s.min / scale)}–${f2(s.max / scale)})` : 'n/a';

/** Markdown for every group that has figures, and for the 100k session. */
export function extraSections(result) {
  const out = [];
  for (const g of GROUPS) {
    const rows = [];
    for (const sc of g.scenarios) {
      const byPeer = result.summary[sc];
      if (!byPeer) continue;
      const base = byPeer[g.base]?.serverUsPerMsg?.median;
      for (const [p, s] of Object.entries(byPeer)) {
        // A raw pair is its own baseline (1.00×); the others go to their pair, else the group's base.
        const ratioTo = g.pairs?.[p] ?? (Object.values(g.pairs ?? {}).includes(p) ? p : g.base);
        const b = ratioTo === g.base ? base : byPeer[ratioTo]?.serverUsPerMsg?.median;
        const ratio =
          b && s.serverUsPerMsg
            ? `${(s.serverUsPerMsg.median / b).toFixed(2)}× ${result.peers[ratioTo] ?? ratioTo}`
            : '';
        const backplane = s.backplaneUsPerMsg ? range(s.backplaneUsPerMsg) : '';
        const loss = `${s.lost?.max ?? 0} / ${s.dup?.max ?? 0}`;
        rows.push(
          `| ${result.scenarios[sc].title} | ${result.peers[p] ?? p} | ${range(s.serverUsPerMsg)} | ${ratio} | ${range(s.loadgenUsPerMsg)} | ${range(s.ratePerSec, 1000)} | ${loss} |${g.backplane ? ` ${backplane} |` : ''}`,
        );
      }
    }
    if (!rows.length) continue;
    out.push(`## ${g.title}

${g.note}

| Scenario | Peer | µs server CPU / delivery | ratio | µs generator CPU / delivery | thousand deliveries / s | lost / dup (max) |${g.backplane ? ' µs backplane CPU / delivery |' : ''}
|---|---|---:|---:|---:|---:|---:|${g.backplane ? '---:|' : ''}
${rows.join('\n')}
`);
  }
  const big = bigSection(result);
  if (big) out.push(big);
  return out.length ? `${out.join('\n')}\n` : '';
}

/**
 * The newest result of bench/vm/run.sh (`bench/results/*-vm.json`) holding a 100k session or a
 * failed attempt at one (`failure`), with its file name; null when there is none.
 */
export function newestVmResult(resultsDir) {
  const files = readdirSync(resultsDir)
    .filter((f) => f.endsWith('-vm.json'))
    .sort()
    .reverse();
  for (const f of files) {
    const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'));
    const failure = r.failures?.find((x) => x.session === '100k');
    if (r.summary?.broadcast_max || failure) return { result: r, file: f, failure };
  }
  return null;
}

/** The 100k session of a guest run, as a section of its own. */
export function vmSection(vm) {
  if (!vm) return '';
  const g = vm.result.machine.vm ?? {};
  const body = bigSection(vm.result);
  if (!body) {
    return vm.failure
      ? `## The 100,000-connection session in a virtual machine

Tried by \`bench/vm/run.sh\` in a guest with its own kernel and fd limit (${g.hypervisor ?? 'qemu'},
${g.vcpus ?? '?'} vCPUs, ${g.memory ?? '?'}): ${vm.failure.error}
([\`bench/results/${vm.file}\`](../bench/results/${vm.file})). This host's KVM is PVM, which boots
only PVM guest kernels, so the guest ran under qemu's TCG emulation, many times slower than the
host: too slow for the handshakes at that scale. A host with usable KVM or a raisable fd limit
runs the session at 100,000 (\`npm run bench:vm\`, or \`npm run bench\`, which asks for the limit).

`
      : '';
  }
  return `${body.replace(/^## .*\n/, `## ${vm.result.scenarios.idle_max?.title ?? 'Many idle connections'}, in a virtual machine\n`)}
Run by \`bench/vm/run.sh\` in a guest with its own kernel (${g.hypervisor ?? 'qemu'}, ${g.vcpus ?? '?'} vCPUs,
${g.memory ?? '?'}; guest kernel ${g.guestKernel ?? 'n/a'}), where the fd limit is the guest's: result
[\`bench/results/${vm.file}\`](../bench/results/${vm.file}), commit \`${vm.result.machine.gitCommit?.slice(0, 12)}\`.
Memory figures are the guest's own and comparable; CPU figures are not: ${
    /tcg/.test(g.hypervisor ?? '')
      ? "qemu's TCG emulates the CPU (this host's KVM offers no usable CPU model), many times slower than the host"
      : 'a guest pays for virtualization'
  }.
`;
}

function bigSection(result) {
  const rss = result.summary.idle_rss_max;
  const idle = result.summary.idle_max;
  const bc = result.summary.broadcast_max;
  if (!rss && !idle && !bc) return null;
  const peers = Object.keys(result.peers).filter((p) => rss?.[p] || idle?.[p] || bc?.[p]);
  const samples = (p) => result.samples.idle_max?.[p] ?? [];
  const rows = peers.map((p) => {
    const s = samples(p);
    const share = s.length
      ? `${Math.round(100 * Math.min(...s.map((x) => x.serverCoreShare)))}–${Math.round(100 * Math.max(...s.map((x) => x.serverCoreShare)))} %`
      : 'n/a';
    const pings = s.length ? s.map((x) => x.pings).join(', ') : 'n/a';
    const timeouts = s.length ? Math.max(...s.map((x) => x.timeouts)) : 'n/a';
    const b = bc?.[p];
    return `| ${result.peers[p]} | ${range(rss?.[p]?.rss, 1048576)} | ${range(rss?.[p]?.rssPerConn, 1024)} | ${share} | ${pings} | ${timeouts} | ${range(idle?.[p]?.rss, 1048576)} | ${range(b?.serverUsPerMsg)} | ${b ? `${b.msgs?.min ?? 0} of ${result.method.bigSession?.connections}; ${b.lost?.max ?? 0} / ${b.dup?.max ?? 0}` : 'n/a'} |`;
  });
  const m = result.method.bigSession ?? {};
  const limit = m.limited
    ? `\n**Ran at ${m.connections.toLocaleString('en-US')}, not ${m.limited.wanted.toLocaleString('en-US')}:** ${m.limited.blocker}. The scenario raises its own limits and rotates source addresses 127.0.0.x, so it runs at 100,000 where the limit allows.\n`
    : '';
  return `## ${result.scenarios.idle_max?.title ?? 'Many idle connections'}
${limit}
All handshakes first; then ${m.idleMs ? `${+(m.idleMs / 1000).toFixed(0)} s` : 'a period'} with nothing but keep-alive (SignalR clients
send a ping every ${m.pingEveryMs ? +(m.pingEveryMs / 1000).toFixed(1) : 15} s, which also arms the server's client timeout, and the server
pings every 15 s; Socket.IO's server pings every 25 s and its clients answer; \`ws\` sends none),
counting connections that closed meanwhile; then exactly one broadcast, checked at every
receiver. Run in ${m.reps ?? 1} repetition(s) per peer.

| Peer | RSS after connecting, MiB | KiB RSS / connection | server CPU while idle, % of a core | client pings sent | connections lost while idle | RSS after the idle period, MiB | µs server CPU / delivery of the broadcast | delivered; lost / dup |
|---|---:|---:|---:|---:|---:|---:|---:|---|
${rows.join('\n')}
`;
}
