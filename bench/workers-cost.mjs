// The cost of crossing workers (docs/scale-out.md#the-cost-of-crossing-workers): the conformance
// echo hub served by one process against `clusterize` with 2 workers (primary + 2 workers joined
// by the in-box bus), side by side in one run, the two set-ups interleaved rep by rep.
//
//   Pinned (the cost): every server process on core 0 (`taskset -c 0`), the clients on core 1.
//     - echo: E connections, each doing round trips one after another; server CPU per round trip.
//     - broadcast to 1,000 and to 5,000 receivers: one sender invokes `broadcast` B times; server
//       CPU (all server processes summed) per delivery. With 2 workers, the receivers are spread
//       over both by node:cluster, so each broadcast crosses the primary to the other worker.
//   Unpinned (the gain): the server processes free to use both cores; echo with many concurrent
//     connections: round trips per second, and how evenly the workers share connections and CPU.
//
//   The raw control (bench/servers/ws-cluster.mjs): a raw `ws` server (no SignalR, no hub: it
//   answers the handshake and sends each invocation back as its own reply) as 1 process and as 2
//   node:cluster workers, pinned and run the same way. Its broadcast crosses workers the plainest
//   way: the worker that gets it writes to its own sockets and hands the frame to the primary over
//   the IPC channel (`advanced` serialization, as clusterize), which hands it to the other worker.
//   What two processes on one core cost any server is its 2-workers / 1-process ratio; what
//   Switchboard's crossing adds is its own ratio over that one.
//
// CPU comes from /proc/<pid>/stat (user + system, every server process); the machine's load
// average is recorded before and after (the machine may be shared).
//
//   npm run build && node bench/workers-cost.mjs [--reps 5] [--echo 20000] [--deliveries 200000]
//                                                [--warmup 10000]
//
// Before each measurement, `warmup` round trips (deliveries for the broadcasts) of the same kind:
// every process has compiled its code by then (with 2 workers each compiles its own).
//
// Prints Markdown tables; writes bench/results/workers-cost-<time>.json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { procCpuUs } from './lib/proc.mjs';

const RS = '\x1e';
const HANDSHAKE = `{"protocol":"json","version":1}${RS}`;

/** A server: one plain process (`workers` 0) or clusterize with `workers` workers. */
async function serve(workers) {
  const { createServer } = await import('node:http');
  const { Hub, HubServer, clusterize, silentLogger } = await import('@switchboard/server');
  class EchoHub extends Hub {
    echo(value) {
      return value;
    }
    async broadcast(value) {
      await this.clients.all.send('m', value);
    }
    workerIndex() {
      return Number(process.env.SWITCHBOARD_WORKER_INDEX ?? 0);
    }
  }
  const build = async (backplane) => {
    const hubs = new HubServer({ logger: silentLogger, ...(backplane ? { backplane } : {}) });
    hubs.mapHub('/echo', EchoHub);
    const http = createServer();
    hubs.attach(http);
    await hubs.ready();
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    return { http, hubs };
  };
  if (workers === 0) {
    const { http } = await build();
    process.send({ port: http.address().port, pids: [process.pid], primary: process.pid });
    process.on('message', (m) => m?.cmd === 'exit' && process.exit(0));
    return;
  }
  const handle = await clusterize(
    async (worker) => {
      const { http, hubs } = await build(worker.inboxBackplane());
      return {
        close: async () => {
          await hubs.close();
          http.closeAllConnections();
          http.close();
        },
      };
    },
    { workers, nodeId: 'bench', logger: silentLogger, handleSignals: false },
  );
  if (handle.role === 'primary') {
    const port = await handle.listening;
    const pids = [process.pid, ...[...handle.workers().values()].map((w) => w.process.pid)];
    process.send({ port, pids, primary: process.pid });
    process.on('message', (m) => {
      if (m?.cmd === 'exit') {
        for (const w of handle.workers().values()) w.process.kill('SIGKILL');
        process.exit(0);
      }
    });
  }
}

/**
 * Starts a server set-up (`workers`: 0 one process, N clusterize workers; `ws0`, `ws2`: the raw
 * control); resolves with its port and the pids of its processes.
 */
async function startServer(workers, core) {
  const script = fileURLToPath(import.meta.url);
  const raw = String(workers).startsWith('ws');
  const cmd = raw
    ? [
        process.execPath,
        fileURLToPath(new URL('./servers/ws-cluster.mjs', import.meta.url)),
        String(workers).slice(2),
      ]
    : [process.execPath, script, '--serve', String(workers)];
  if (core !== null) cmd.unshift('taskset', '-c', String(core));
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const info = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { child, ...info };
}

async function stopServer(server) {
  const gone = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.send({ cmd: 'exit' });
  const t = setTimeout(() => server.child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(t);
}

/**
 * CPU time of a process in µs, every thread summed, from /proc/<pid>/task/<tid>/schedstat (ns
 * precision; /proc/<pid>/stat counts in 10 ms ticks).
 */
function cpuUs(pid) {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return procCpuUs(pid);
  }
  return ns / 1000;
}
const cpuOf = (pids) => pids.map((pid) => cpuUs(pid));
const sum = (a) => a.reduce((x, y) => x + y, 0);

/** A client connection (skipNegotiation WebSocket, JSON protocol), counting broadcast deliveries. */
class Client {
  static delivered = 0;
  constructor(port) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    this.waiters = new Map();
    this.ready = new Promise((resolve, reject) => {
      this.ws.once('error', reject);
      this.ws.once('open', () => this.ws.send(HANDSHAKE));
      this.handshaken = resolve;
    });
    this.ws.on('message', (data) => this.receive(String(data)));
  }
  receive(text) {
    if (this.handshaken) {
      const h = this.handshaken;
      this.handshaken = undefined;
      h();
      return;
    }
    for (const record of text.split(RS)) {
      if (record.length === 0) continue;
      if (record.startsWith('{"type":1,"target":"m"')) {
        Client.delivered++;
        continue;
      }
      const m = /"invocationId":"(\d+)"/.exec(record);
      if (m) {
        const w = this.waiters.get(m[1]);
        this.waiters.delete(m[1]);
        w?.(record);
      }
    }
  }
  invoke(id, target, arg) {
    return new Promise((resolve) => {
      this.waiters.set(String(id), resolve);
      this.ws.send(`{"type":1,"invocationId":"${id}","target":"${target}","arguments":[${arg}]}${RS}`);
    });
  }
  close() {
    this.ws.terminate();
  }
}

async function connectMany(port, n, into) {
  for (let i = 0; i < n; i += 200) {
    const batch = Array.from({ length: Math.min(200, n - i) }, () => new Client(port));
    await Promise.all(batch.map((c) => c.ready));
    into.push(...batch);
  }
}

let nextId = 1;
/** `count` round trips one at a time, alternating between `clients` (one per worker with 2). */
async function echoSerial(clients, count) {
  for (let i = 0; i < count; i++) await clients[i % clients.length].invoke(nextId++, 'echo', i);
}

/** `perConnection` round trips on each client, all clients at once; resolves with the elapsed ms. */
async function echo(clients, perConnection) {
  const started = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < perConnection; i++) await c.invoke(nextId++, 'echo', i);
    }),
  );
  return performance.now() - started;
}

async function waitUntil(pred, ms) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One pinned set-up: echo, broadcast to 1,000, broadcast to 5,000; server CPU per operation. */
async function pinnedRun(workers, opts) {
  const server = await startServer(workers, 0);
  const clients = [];
  try {
    const out = { workers };
    await connectMany(server.port, opts.echoConnections, clients);
    // One at a time: the first two connections (node:cluster's round robin puts them on the two
    // workers), alternating; every round trip wakes its process alone in both set-ups.
    // Warm-up long enough for every process to have compiled its code (each worker compiles its
    // own: a short one would count a second worker's compiling as the cost of crossing).
    await echoSerial(clients.slice(0, 2), opts.warmup);
    let before = cpuOf(server.pids);
    await echoSerial(clients.slice(0, 2), opts.echoSerial);
    out.echoSerialUsPerRoundTrip = (sum(cpuOf(server.pids)) - sum(before)) / opts.echoSerial;
    // Concurrent: every connection at once (more work per wake-up of a process).
    await echo(clients, Math.ceil(opts.warmup / clients.length)); // warm-up
    const per = Math.ceil(opts.echo / clients.length);
    before = cpuOf(server.pids);
    await echo(clients, per);
    out.echoUsPerRoundTrip = (sum(cpuOf(server.pids)) - sum(before)) / (per * clients.length);
    for (const receivers of [1_000, 5_000]) {
      await connectMany(server.port, receivers - clients.length, clients);
      const sender = clients[0];
      const broadcasts = Math.ceil(opts.deliveries / clients.length);
      // Warm-up broadcasts, then the measured ones (invocations one after another).
      Client.delivered = 0;
      const warmup = Math.max(3, Math.ceil(opts.warmup / clients.length));
      for (let i = 0; i < warmup; i++) await sender.invoke(nextId++, 'broadcast', i);
      await waitUntil(() => Client.delivered >= warmup * clients.length, 60_000);
      Client.delivered = 0;
      before = cpuOf(server.pids);
      for (let i = 0; i < broadcasts; i++) await sender.invoke(nextId++, 'broadcast', i);
      await waitUntil(() => Client.delivered >= broadcasts * clients.length, 120_000);
      out[`broadcast${receivers}UsPerDelivery`] =
        (sum(cpuOf(server.pids)) - sum(before)) / (broadcasts * clients.length);
    }
    return out;
  } finally {
    for (const c of clients) c.close();
    await stopServer(server);
  }
}

/** One unpinned set-up: echo throughput with many connections; the workers' shares. */
async function unpinnedRun(workers, opts) {
  const server = await startServer(workers, null);
  const clients = [];
  try {
    await connectMany(server.port, opts.throughputConnections, clients);
    const byWorker = new Map();
    for (const c of clients) {
      const record = await c.invoke(nextId++, 'workerIndex', '');
      const w = Number(/"result":(\d+)/.exec(record)?.[1] ?? -1);
      byWorker.set(w, (byWorker.get(w) ?? 0) + 1);
    }
    await echo(clients, 50);
    const per = Math.ceil(opts.echo / clients.length);
    const before = cpuOf(server.pids);
    const ms = await echo(clients, per);
    const after = cpuOf(server.pids);
    const cpu = after.map((v, i) => v - before[i]);
    return {
      workers,
      roundTripsPerSecond: (per * clients.length * 1000) / ms,
      connectionsPerWorker: [...byWorker.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]),
      // pids[0] is the primary with workers (the process itself with one).
      cpuMsPerProcess: cpu.map((v) => Math.round(v / 1000)),
    };
  } finally {
    for (const c of clients) c.close();
    await stopServer(server);
  }
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, min: s[0], max: s[s.length - 1], values };
}

async function main() {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      echo: { type: 'string', default: '20000' },
      'echo-serial': { type: 'string', default: '5000' },
      deliveries: { type: 'string', default: '200000' },
      warmup: { type: 'string', default: '10000' },
      'echo-connections': { type: 'string', default: '20' },
      'throughput-connections': { type: 'string', default: '200' },
    },
  });
  const opts = {
    reps: Number(values.reps),
    echo: Number(values.echo),
    echoSerial: Number(values['echo-serial']),
    deliveries: Number(values.deliveries),
    warmup: Number(values.warmup),
    echoConnections: Number(values['echo-connections']),
    throughputConnections: Number(values['throughput-connections']),
  };
  const pin = (cores) => spawnSync('taskset', ['-a', '-cp', cores, String(process.pid)]);
  const loadBefore = loadavg();
  // 0: one plain process; 1: clusterize with 1 worker (the primary and the in-box bus, no
  // second worker); 2: clusterize with 2 workers.
  // ws0, ws2: the raw `ws` control as 1 process and as 2 workers.
  const pinned = { 0: [], 1: [], 2: [], ws0: [], ws2: [] };
  const unpinned = { 0: [], 2: [], ws0: [], ws2: [] };
  for (let rep = 0; rep < opts.reps; rep++) {
    const order = rep % 2 === 0 ? [0, 1, 2, 'ws0', 'ws2'] : ['ws2', 'ws0', 2, 1, 0];
    pin('1'); // the clients on core 1, the servers on core 0
    for (const w of order) {
      const r = await pinnedRun(w, opts);
      pinned[w].push(r);
      process.stderr.write(`rep ${rep + 1} pinned ${w}: ${JSON.stringify(r)}\n`);
    }
    pin(`0-${cpus().length - 1}`);
    for (const w of order.filter((x) => x !== 1)) {
      const r = await unpinnedRun(w, opts);
      unpinned[w].push(r);
      process.stderr.write(`rep ${rep + 1} unpinned ${w}: ${JSON.stringify(r)}\n`);
    }
  }
  const loadAfter = loadavg();
  const metrics = [
    'echoSerialUsPerRoundTrip',
    'echoUsPerRoundTrip',
    'broadcast1000UsPerDelivery',
    'broadcast5000UsPerDelivery',
  ];
  const summary = {};
  for (const m of metrics) {
    const one = stats(pinned[0].map((r) => r[m]));
    const single = stats(pinned[1].map((r) => r[m]));
    const two = stats(pinned[2].map((r) => r[m]));
    // Ratio per rep (the set-ups of one rep ran back to back), then its median and spread.
    const ratios = stats(pinned[2].map((r, i) => r[m] / pinned[0][i][m]));
    const rawOne = stats(pinned.ws0.map((r) => r[m]));
    const rawTwo = stats(pinned.ws2.map((r) => r[m]));
    const rawRatios = stats(pinned.ws2.map((r, i) => r[m] / pinned.ws0[i][m]));
    // Switchboard's ratio over the raw one, rep by rep: what crossing adds beyond two processes.
    const net = stats(
      pinned[2].map((r, i) => r[m] / pinned[0][i][m] / (pinned.ws2[i][m] / pinned.ws0[i][m])),
    );
    summary[m] = { one, single, two, ratio: ratios, rawOne, rawTwo, rawRatio: rawRatios, net };
  }
  const tput1 = stats(unpinned[0].map((r) => r.roundTripsPerSecond));
  const tput2 = stats(unpinned[2].map((r) => r.roundTripsPerSecond));
  const rawTput1 = stats(unpinned.ws0.map((r) => r.roundTripsPerSecond));
  const rawTput2 = stats(unpinned.ws2.map((r) => r.roundTripsPerSecond));
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpus().length,
    loadBefore,
    loadAfter,
    opts,
    pinned,
    unpinned,
    summary,
    throughput: {
      one: tput1,
      two: tput2,
      gain: stats(unpinned[2].map((r, i) => r.roundTripsPerSecond / unpinned[0][i].roundTripsPerSecond)),
      rawOne: rawTput1,
      rawTwo: rawTput2,
      rawGain: stats(unpinned.ws2.map((r, i) => r.roundTripsPerSecond / unpinned.ws0[i].roundTripsPerSecond)),
    },
  };
  const f = (v, d = 2) => v.toFixed(d);
  const lines = [
    `Load average before ${loadBefore.map((v) => f(v)).join(' ')}, after ${loadAfter.map((v) => f(v)).join(' ')}; ${opts.reps} reps.`,
    '',
    '| server CPU (pinned to one core) | 1 process (median, min-max) | clusterize, 1 worker | clusterize, 2 workers | 2 workers / 1 process, per rep (median, min-max) |',
    '|---|---|---|---|---|',
  ];
  const names = {
    echoSerialUsPerRoundTrip: 'echo one at a time, µs per round trip',
    echoUsPerRoundTrip: `echo, ${opts.echoConnections} connections at once, µs per round trip`,
    broadcast1000UsPerDelivery: 'broadcast to 1,000, µs per delivery',
    broadcast5000UsPerDelivery: 'broadcast to 5,000, µs per delivery',
  };
  for (const m of metrics) {
    const s = summary[m];
    lines.push(
      `| ${names[m]} | ${f(s.one.median)} (${f(s.one.min)}-${f(s.one.max)}) | ${f(s.single.median)} (${f(s.single.min)}-${f(s.single.max)}) | ${f(s.two.median)} (${f(s.two.min)}-${f(s.two.max)}) | ${f(s.ratio.median)}x (${f(s.ratio.min)}-${f(s.ratio.max)}) |`,
    );
  }
  lines.push(
    '',
    "| raw `ws` control (pinned to one core) | 1 process | 2 workers | 2 workers / 1 process, per rep | Switchboard's ratio / raw ratio, per rep |",
    '|---|---|---|---|---|',
  );
  for (const m of metrics) {
    const s = summary[m];
    lines.push(
      `| ${names[m]} | ${f(s.rawOne.median)} (${f(s.rawOne.min)}-${f(s.rawOne.max)}) | ${f(s.rawTwo.median)} (${f(s.rawTwo.min)}-${f(s.rawTwo.max)}) | ${f(s.rawRatio.median)}x (${f(s.rawRatio.min)}-${f(s.rawRatio.max)}) | ${f(s.net.median)}x (${f(s.net.min)}-${f(s.net.max)}) |`,
    );
  }
  lines.push(
    '',
    '| unpinned echo | round trips/s (median, min-max) | connections per worker | CPU ms per process (primary, workers) |',
    '|---|---|---|---|',
  );
  const label = { 0: '1 process', 2: '2 workers', ws0: 'raw `ws`, 1 process', ws2: 'raw `ws`, 2 workers' };
  for (const [w, t] of [
    [0, tput1],
    [2, tput2],
    ['ws0', rawTput1],
    ['ws2', rawTput2],
  ]) {
    const all = unpinned[w];
    lines.push(
      `| ${label[w]} | ${f(t.median, 0)} (${f(t.min, 0)}-${f(t.max, 0)}) | ${w === 0 || w === 'ws0' ? '-' : all.map((r) => r.connectionsPerWorker.join('/')).join(', ')} | ${all.map((r) => r.cpuMsPerProcess.join('/')).join(', ')} |`,
    );
  }
  lines.push(
    '',
    `Throughput gained with 2 workers: ${f(result.throughput.gain.median)}x (${f(result.throughput.gain.min)}-${f(result.throughput.gain.max)}); raw \`ws\`: ${f(result.throughput.rawGain.median)}x (${f(result.throughput.rawGain.min)}-${f(result.throughput.rawGain.max)}).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}workers-cost-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`written ${file}\n`);
  process.exit(0);
}

if (process.argv[2] === '--serve') await serve(Number(process.argv[3]));
else await main();
