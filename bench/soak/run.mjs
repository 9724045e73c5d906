#!/usr/bin/env node
// The soak: two conformance nodes on one Redis, clients of every transport coming and going all
// the time, stateful reconnects through a proxy that cuts sockets, and numbered broadcasts from
// both nodes, for as long as asked. Memory, file descriptors and latency are recorded; the verdict
// (bench/soak/analyse.mjs) decides pass or fail, and the process exits 0 only on a pass.
//
//   npm run soak -- --minutes 30 [--out FILE] [--redis URL] [--receivers N] [--stateful N]
//                   [--churn N] [--rate N] [--probe-ms N] [--sample-s N] [--cut-s N]
//                   [--quiesce-s N] [--warmup-s N]
//   npm run soak -- --doc-from bench/results/soak-<time>.json   (only rewrites docs/soak.md)
//
// Writes bench/results/soak-<time>.json and .svg (or --out FILE and FILE with .svg).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deleteRedisPrefix, FaultProxy } from '@switchboard/testkit';
import { machineInfo, spawnNode, stopChild, waitMessage } from '../lib/proc.mjs';
import { quantile, verdict } from './analyse.mjs';
import { soakChart } from './chart.mjs';
import { Broadcaster, Churn, Receiver, TRANSPORTS } from './clients.mjs';
import { soakDoc } from './doc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    out: { type: 'string' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    receivers: { type: 'string', default: '10' },
    stateful: { type: 'string', default: '3' },
    churn: { type: 'string', default: '12' },
    rate: { type: 'string', default: '10' },
    'probe-ms': { type: 'string', default: '1000' },
    'sample-s': { type: 'string', default: '10' },
    'cut-s': { type: 'string', default: '20' },
    'quiesce-s': { type: 'string', default: '12' },
    'warmup-s': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    'doc-from': { type: 'string' },
  },
});
// `--doc-from bench/results/soak-….json`: only rewrite docs/soak.md from that result.
if (flags['doc-from']) {
  const file = flags['doc-from'];
  const result = JSON.parse(readFileSync(file, 'utf8'));
  const svg = `${basename(file).replace(/\.json$/, '')}.svg`;
  writeFileSync(join(root, 'docs', 'soak.md'), soakDoc(result, basename(file), svg));
  process.exit(0);
}
const num = (name) => {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number >= 0, got '${flags[name]}'`);
  return v;
};
const config = {
  minutes: num('minutes'),
  receiversPerNode: num('receivers'),
  statefulPerNode: num('stateful'),
  churnConcurrency: num('churn'),
  broadcastsPerSecond: num('rate'),
  probeIntervalMs: num('probe-ms'),
  sampleIntervalS: num('sample-s'),
  cutIntervalS: num('cut-s'),
  quiesceS: num('quiesce-s'),
};
const totalMs = config.minutes * 60_000;
// Warm-up: --warmup-s, else a tenth of the run, at least 30 s (less only for runs shorter than
// 5 min). Bounded caches fill during it: each node's duplicate-drop window holds the envelope ids
// of the last 5 minutes per hub (at most 10,000).
const warmupMs = flags['warmup-s']
  ? Math.min(num('warmup-s') * 1000, totalMs / 3)
  : Math.min(Math.max(totalMs * 0.1, 30_000), totalMs / 3);
const log = (...a) => flags.quiet || console.log(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function redisAnswers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port || 6379), hostname, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

if (!(await redisAnswers(flags.redis))) {
  console.error(`soak: Redis does not answer at ${flags.redis} (start one, or pass --redis URL)`);
  process.exit(2);
}

const prefix = `soak-${process.pid}-${Date.now()}:`;
const jwtSecret = randomBytes(24).toString('base64url');
const nodes = [];
for (const id of ['a', 'b']) {
  const child = spawnNode(join(here, 'node.mjs'), {
    nodeArgs: ['--expose-gc'],
    env: {
      SOAK_REDIS_URL: flags.redis,
      SOAK_PREFIX: prefix,
      SOAK_NODE_ID: `soak-${id}`,
      SOAK_JWT_SECRET: jwtSecret,
    },
  });
  const ready = await waitMessage(child, (m) => m.kind === 'ready', 30_000, `node ${id}`);
  nodes.push({ id, child, url: ready.url });
}
const proxies = await Promise.all(nodes.map((n) => FaultProxy.start(Number(new URL(n.url).port))));
const proxyUrls = proxies.map((p) => `http://127.0.0.1:${p.port}`);
log(`nodes ${nodes.map((n) => n.url).join(', ')}; proxies ${proxyUrls.join(', ')}; prefix ${prefix}`);

let statsId = 0;
async function stats(node) {
  const id = ++statsId;
  node.child.send({ cmd: 'stats', id });
  return waitMessage(node.child, (m) => m.kind === 'stats' && m.id === id, 30_000, `stats of ${node.id}`);
}
const fdsOfAll = async () =>
  Object.fromEntries(await Promise.all(nodes.map(async (n) => [n.id, (await stats(n)).fds])));

/** Tokens from the node's own /generateJwtToken (the nodes share the secret). */
async function tokenFor(baseUrl, user) {
  const res = await fetch(`${baseUrl}/generateJwtToken?user=${encodeURIComponent(user)}`);
  return res.text();
}
const baseUrls = nodes.map((n) => n.url);
// Keep-alive sockets that clients leave behind close within Node's keep-alive timeout (5 s).
const QUIESCE_MS = config.quiesceS * 1000;

// Priming: every kind of client once, then all gone, so that what a node opens once (backplane
// subscriptions, pools) is in the baseline of file descriptors.
{
  const prime = new Churn([...baseUrls], 4, tokenFor);
  prime.start();
  await sleep(5_000);
  await prime.stop();
  await sleep(QUIESCE_MS);
}
const baselineFds = await fdsOfAll();
log('baseline fds', baselineFds);

const delivery = { gaps: 0, duplicates: 0, missingAtEnd: 0, receivers: 0, closedUnexpectedly: 0 };
const receivers = [];
for (const [i, node] of nodes.entries()) {
  for (let k = 0; k < config.receiversPerNode; k++) {
    const kind = TRANSPORTS[k % TRANSPORTS.length];
    receivers.push(await new Receiver(`${node.id}-${kind[0]}-${k}`, delivery).start(node.url, kind));
  }
  for (let k = 0; k < config.statefulPerNode; k++) {
    const r = new Receiver(`${node.id}-stateful-${k}`, delivery);
    receivers.push(await r.start(proxyUrls[i], TRANSPORTS[k % 2], { statefulReconnect: true }));
  }
}
delivery.receivers = receivers.length;
const t0 = performance.now();
const now = () => performance.now() - t0;
const broadcasters = [];
for (const node of nodes) {
  broadcasters.push(await new Broadcaster(`from-${node.id}`, config.broadcastsPerSecond).start(node.url));
}
const churn = new Churn(baseUrls, config.churnConcurrency, tokenFor);
churn.start();

const latencies = [];
let probeErrors = 0;
let probing = true;
const probeLoops = receivers.map(async (r, i) => {
  await sleep((config.probeIntervalMs * i) / receivers.length);
  while (probing) {
    const t = now();
    try {
      latencies.push({ t, ms: await r.probe() });
    } catch {
      probeErrors++;
    }
    await sleep(config.probeIntervalMs);
  }
});
const samples = [];
// The machine's load and the driver's own event-loop delay, to tell a slow server from a busy host.
const host = [];
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const sampler = setInterval(async () => {
  const t = now();
  host.push({ t, load1: loadavg()[0], driverLoopP99Ms: loopDelay.percentile(99) / 1e6 });
  loopDelay.reset();
  for (const node of nodes) {
    try {
      const s = await stats(node);
      samples.push({
        t,
        node: node.id,
        rss: s.rss,
        heapUsed: s.heapUsed,
        codeSpace: s.codeSpace,
        fds: s.fds,
        connections: s.connections,
      });
    } catch {}
  }
  const last = samples.slice(-nodes.length);
  log(
    `${(t / 60000).toFixed(1)} min`,
    last
      .map(
        (s) =>
          `${s.node}: rss ${(s.rss / 2 ** 20).toFixed(1)} MiB heap ${(s.heapUsed / 2 ** 20).toFixed(1)} MiB fds ${s.fds} conns ${s.connections}`,
      )
      .join('; '),
    `| churn ${churn.completed}/${churn.started} failed ${churn.failed} | gaps ${delivery.gaps} dups ${delivery.duplicates}`,
  );
}, config.sampleIntervalS * 1000);
let cuts = 0;
const cutter = setInterval(() => {
  proxies[cuts % proxies.length].cut();
  cuts++;
}, config.cutIntervalS * 1000);

await sleep(totalMs);
const endMs = now();
clearInterval(cutter);
clearInterval(sampler);
await churn.stop();
probing = false;
await Promise.all(probeLoops);
await Promise.all(broadcasters.map((b) => b.stop()));
// Every receiver must reach each broadcaster's last acknowledged number.
const caughtUp = () => receivers.every((r) => broadcasters.every((b) => (r.last.get(b.name) ?? 0) >= b.sent));
const deadline = Date.now() + 30_000;
while (!caughtUp() && Date.now() < deadline) await sleep(50);
const closedReceivers = [];
for (const r of receivers) {
  for (const b of broadcasters) delivery.missingAtEnd += Math.max(0, b.sent - (r.last.get(b.name) ?? 0));
  if (r.closedUnexpectedly) {
    delivery.closedUnexpectedly++;
    closedReceivers.push({ name: r.name, atMs: Math.round(r.closedAt - t0), error: r.closeError });
  }
}
await Promise.all(receivers.map((r) => r.stop()));
await sleep(QUIESCE_MS);
const finalFds = await fdsOfAll();
log('final fds', finalFds);

for (const node of nodes) await stopChild(node.child);
for (const p of proxies) await p.close?.();
await deleteRedisPrefix(flags.redis, prefix).catch(() => undefined);

const run = {
  warmupEndMs: warmupMs,
  endMs,
  samples,
  latencies,
  fds: { baseline: baselineFds, final: finalFds },
  delivery,
  churn: { started: churn.started, completed: churn.completed, failed: churn.failed, errors: churn.errors },
};
const v = verdict(run);
if (delivery.closedUnexpectedly > 0) {
  v.checks.nothingLost = false;
  v.pass = false;
}
const perMinute = [];
for (let t = 0; t < endMs; t += 60_000) {
  const ms = latencies.filter((l) => l.t >= t && l.t < t + 60_000).map((l) => l.ms);
  if (ms.length)
    perMinute.push({ t: t + 30_000, n: ms.length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) });
}
const result = {
  kind: 'soak',
  startedAt: new Date(Date.now() - endMs).toISOString(),
  machine: machineInfo(root),
  config,
  verdict: v,
  summary: {
    broadcastsSent: Object.fromEntries(broadcasters.map((b) => [b.name, b.sent])),
    broadcastFailures: broadcasters.reduce((s, b) => s + b.failed, 0),
    probes: latencies.length,
    probeErrors,
    proxyCuts: cuts,
    closedReceivers,
    churn: run.churn,
    delivery,
  },
  latencyPerMinute: perMinute,
  // Raw latencies are summarised per minute above; the memory samples are kept whole.
  run: { warmupEndMs: warmupMs, endMs, samples, host, fds: run.fds },
};
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const out = flags.out ?? join(root, 'bench', 'results', `soak-${stamp}.json`);
writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
const svg = `${out.replace(/\.json$/, '')}.svg`;
writeFileSync(svg, soakChart(result));
log(`wrote ${out}`);
// The run by hand (no --out) is the one docs/soak.md shows.
if (!flags.out) writeFileSync(join(root, 'docs', 'soak.md'), soakDoc(result, basename(out), basename(svg)));
console.log(
  JSON.stringify(
    {
      pass: v.pass,
      checks: v.checks,
      memory: v.memory,
      fdLeaks: v.fdLeaks,
      latency: v.latency,
      summary: result.summary,
    },
    null,
    1,
  ),
);
process.exit(v.pass ? 0 : 1);
