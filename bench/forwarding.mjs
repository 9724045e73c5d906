// The cost of a forwarded request (docs/scale-out.md#no-sticky-sessions): two Switchboard nodes
// (A and B, one process each, the same clusterSecret); every connection is negotiated on A. An
// echo round trip is sent either to A itself ("direct") or to B, which forwards it to A
// ("forwarded"), side by side in one run, the two modes interleaved rep by rep:
//   - long polling: one POST of the invocation, then one poll that brings the completion back
//     (two HTTP requests per round trip, both forwarded);
//   - WebSockets: one invocation frame and its completion over a socket upgraded on A, or on B
//     and piped to A.
// Reported per mode: the round trip's latency (p50, p99, at the client) and the server CPU per
// round trip (A and B, from /proc/<pid>/stat), with the machine's load average before and after.
//
//   npm run build && nice -n 10 node bench/forwarding.mjs [--round-trips 2000] [--reps 5]
//
// The result is printed as a Markdown table and written to bench/results/forwarding-<time>.json.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { procCpuUs } from './lib/proc.mjs';

const RS = '\x1e';
const SECRET = 'forwarding bench secret';
/** Polls made (to report polls per round trip). */
let polls = 0;

if (process.argv[2] === '--serve') {
  await serve();
} else {
  await main();
}

/** A child: one node with an echo hub and forwarding on; sends its port to the parent. */
async function serve() {
  const { createServer } = await import('node:http');
  const { Hub, HubServer, silentLogger } = await import('@switchboard/server');
  class EchoHub extends Hub {
    echo(value) {
      return value;
    }
  }
  const hubs = new HubServer({ clusterSecret: SECRET, logger: silentLogger });
  hubs.mapHub('/echo', EchoHub);
  const http = createServer();
  hubs.attach(http);
  http.listen(0, '127.0.0.1', () => process.send({ port: http.address().port }));
  process.on('message', (m) => {
    if (m === 'stop') hubs.close().then(() => process.exit(0));
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      'round-trips': { type: 'string', default: '2000' },
      reps: { type: 'string', default: '5' },
    },
  });
  const roundTrips = Number(values['round-trips']);
  const reps = Number(values.reps);
  const loadBefore = loadavg();
  const [a, b] = await Promise.all([startNode(), startNode()]);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const samples = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which mode goes first, so that neither always runs on a warmer process.
      const modes = rep % 2 === 0 ? ['direct', 'forwarded'] : ['forwarded', 'direct'];
      for (const transport of ['LongPolling', 'WebSockets']) {
        for (const mode of modes) {
          const target = mode === 'direct' ? a : b;
          const run = transport === 'LongPolling' ? longPolling : webSockets;
          // A short warm-up of the same path first (JIT, pooled sockets).
          await run(agent, a, target, Math.min(200, roundTrips));
          polls = 0;
          const cpuA = procCpuUs(a.child.pid);
          const cpuB = procCpuUs(b.child.pid);
          const latencies = await run(agent, a, target, roundTrips);
          samples.push({
            rep,
            transport,
            mode,
            latencies,
            cpuAUs: procCpuUs(a.child.pid) - cpuA,
            cpuBUs: procCpuUs(b.child.pid) - cpuB,
            pollsPerRoundTrip: polls / roundTrips,
          });
        }
      }
    }
  } finally {
    agent.destroy();
    for (const node of [a, b]) node.child.send('stop');
  }
  const loadAfter = loadavg();
  const rows = summarize(samples, roundTrips);
  const result = {
    at: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    roundTrips,
    reps,
    loadBefore,
    loadAfter,
    rows,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}forwarding-${result.at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(markdown(result));
  console.log(`\nwritten to ${file}`);
}

/** Starts a node process; resolves with its child and port. */
function startNode() {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: m.port, url: `http://127.0.0.1:${m.port}` }));
    child.once('exit', (code) => reject(new Error(`a node exited with ${code}`)));
  });
}

/** Negotiates on `owner` and returns the connection token. */
async function negotiate(agent, owner) {
  const reply = await send(agent, `${owner.url}/echo/negotiate?negotiateVersion=1`, 'POST');
  return JSON.parse(reply.text).connectionToken;
}

/** Long-polling round trips through `target` for a connection negotiated on `owner`; latencies in µs. */
async function longPolling(agent, owner, target, count) {
  const token = await negotiate(agent, owner);
  const url = `${target.url}/echo?id=${encodeURIComponent(token)}`;
  await send(agent, url); // the first poll, answered at once
  await send(agent, url, 'POST', `{"protocol":"json","version":1}${RS}`);
  await pollUntil(agent, url, '{}');
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await send(
      agent,
      url,
      'POST',
      `{"type":1,"invocationId":"${i}","target":"echo","arguments":[${i}]}${RS}`,
    );
    await pollUntil(agent, url, `"invocationId":"${i}"`);
    latencies.push(Number(process.hrtime.bigint() - started) / 1_000);
  }
  await send(agent, url, 'DELETE');
  return latencies;
}

/** Polls until a reply contains `needle` (a completion may come with a ping first). */
async function pollUntil(agent, url, needle) {
  for (;;) {
    polls++;
    const reply = await send(agent, url);
    if (reply.status !== 200) throw new Error(`poll answered ${reply.status}: ${reply.text}`);
    if (reply.text.includes(needle)) return;
  }
}

/** WebSocket round trips through `target` for a connection negotiated on `owner`; latencies in µs. */
async function webSockets(agent, owner, target, count) {
  const token = await negotiate(agent, owner);
  const ws = new WebSocket(`${target.url.replace('http', 'ws')}/echo?id=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let waiting;
  ws.on('message', (data) => {
    const text = String(data);
    if (waiting && text.includes(waiting.needle)) {
      const w = waiting;
      waiting = undefined;
      w.resolve();
    }
  });
  const reply = (needle) =>
    new Promise((resolve) => {
      waiting = { needle, resolve };
    });
  let next = reply('{}');
  ws.send(`{"protocol":"json","version":1}${RS}`);
  await next;
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    next = reply(`"invocationId":"${i}"`);
    ws.send(`{"type":1,"invocationId":"${i}","target":"echo","arguments":[${i}]}${RS}`);
    await next;
    latencies.push(Number(process.hrtime.bigint() - started) / 1_000);
  }
  ws.close();
  return latencies;
}

/** One HTTP request on the keep-alive agent; resolves with status and text. */
function send(agent, url, method = 'GET', body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Medians over repetitions of each transport and mode. */
function summarize(samples, roundTrips) {
  const rows = [];
  for (const transport of ['LongPolling', 'WebSockets']) {
    for (const mode of ['direct', 'forwarded']) {
      const mine = samples.filter((s) => s.transport === transport && s.mode === mode);
      rows.push({
        transport,
        mode,
        p50Us: median(mine.map((s) => percentile(s.latencies, 0.5))),
        p99Us: median(mine.map((s) => percentile(s.latencies, 0.99))),
        cpuAUsPerRoundTrip: median(mine.map((s) => s.cpuAUs / roundTrips)),
        cpuBUsPerRoundTrip: median(mine.map((s) => s.cpuBUs / roundTrips)),
        cpuUsPerRoundTrip: median(mine.map((s) => (s.cpuAUs + s.cpuBUs) / roundTrips)),
        pollsPerRoundTrip: median(mine.map((s) => s.pollsPerRoundTrip)),
        perRep: mine.map((s) => ({
          p50Us: percentile(s.latencies, 0.5),
          cpuUsPerRoundTrip: (s.cpuAUs + s.cpuBUs) / roundTrips,
        })),
      });
    }
  }
  return rows;
}

function percentile(values, p) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function median(values) {
  return percentile(values, 0.5);
}

function markdown(result) {
  const f = (n) => n.toFixed(0);
  const lines = [
    `${result.at}, Node ${result.node}, ${result.cpus} cores; ${result.roundTrips} round trips x ${result.reps} reps (medians); load average before ${result.loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${result.loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
    '',
    '| transport | mode | p50 µs | p99 µs | CPU owner (A) µs | CPU forwarder (B) µs | server CPU µs / round trip | forwarded / direct |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of result.rows) {
    const direct = result.rows.find((r) => r.transport === row.transport && r.mode === 'direct');
    const ratio =
      row.mode === 'forwarded'
        ? `${(row.cpuUsPerRoundTrip / direct.cpuUsPerRoundTrip).toFixed(2)}x CPU, ${(row.p50Us / direct.p50Us).toFixed(2)}x p50`
        : '';
    lines.push(
      `| ${row.transport} | ${row.mode} | ${f(row.p50Us)} | ${f(row.p99Us)} | ${f(row.cpuAUsPerRoundTrip)} | ${f(row.cpuBUsPerRoundTrip)} | ${f(row.cpuUsPerRoundTrip)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}
