#!/usr/bin/env node
// The cost of the OpenTelemetry instruments on the hot path (docs/benchmarks.md, "OpenTelemetry on
// the hot path"): the same echo load against a hub server with only the API (no SDK registered:
// the server installs no instrument, each invocation checks one non-recording span) and with the
// SDK registered: `metrics` (a MeterProvider with a reader) and `sdk` (that, plus a tracer provider
// sampling every span into a batch processor whose exporter drops them, and the async context
// manager).
//
//   node bench/otel-overhead.mjs [--reps 5] [--seconds 5] [--connections 20] [--window 8]
//
// Each run is one process (pinned to one core with taskset when present) holding the server and a
// raw WebSocket load generator (JSON protocol, `window` invocations in flight per connection);
// modes alternate per repetition. The headline is the process's CPU time (user + system) per
// invocation over the measured window: the load generator's share is the same in both modes, so
// the difference is what the instruments cost. Medians over the repetitions. Needs
// `npm run build` first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const RS = '\x1e';

const { values: opt } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '20' },
    window: { type: 'string', default: '8' },
    child: { type: 'string' },
    micro: { type: 'boolean', default: false },
  },
});

if (opt.child) await child(opt.child);
else if (opt.micro) await micro();
else await main();

/**
 * `--micro`: the instruments alone, in a loop, what one echo invocation records (a message in, an
 * invocation completed, a write out; the invocation's span started and ended), in ns per
 * invocation, with only the API, then with the SDK registered. Less sensitive to a busy machine
 * than the end-to-end runs.
 */
async function micro() {
  const { metrics, trace, context } = await import('@opentelemetry/api');
  const { OpenTelemetryHubMetrics, liveMeter } = await import('@switchboard/server');
  const tracing = await import('../packages/server/dist/telemetry/tracing.js');
  const n = 1_000_000;
  const time = (label, fn) => {
    for (let i = 0; i < n / 10; i++) fn(); // warm-up
    // CPU time, not wall time: on a busy machine the process waits for a core.
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(before);
    const ns = ((used.user + used.system) * 1000) / n;
    console.log(`${label}: ${ns.toFixed(0)} ns per invocation`);
    return ns;
  };
  const span = () => {
    const traced = tracing.startInvocationSpan('EchoHub', '/echo', 'echo', 'conn-1', undefined);
    if (traced !== undefined) context.with(traced.context, () => tracing.endSpan(traced.span, undefined));
  };
  const record = (m) => () => {
    m.messagesReceived('/echo', 1, 60);
    m.invocationCompleted('/echo', 'echo', true, 0.05);
    m.messageSent('/echo', 50);
  };
  const results = {};
  results.apiMetrics = liveMeter() === undefined ? 0 : Number.NaN; // nothing is installed
  results.apiSpan = time('API only: the span check', span);
  await registerSdk(true);
  results.sdkMetrics = time(
    'SDK: metrics',
    record(new OpenTelemetryHubMetrics(liveMeter(metrics.getMeterProvider()))),
  );
  results.sdkSpan = time('SDK: span (sampled, batched, dropped)', span);
  console.log(
    JSON.stringify({ node: process.version, n, results, tracer: trace.getTracerProvider().constructor.name }),
  );
  process.exit(0);
}

/** One run: the server (the SDK registered or not) and its load, in this process. */
async function child(mode) {
  if (mode !== 'api') await registerSdk(mode === 'sdk');
  const { createServer } = await import('node:http');
  const { HubServer, Hub, silentLogger } = await import('@switchboard/server');
  class EchoHub extends Hub {
    echo(value) {
      return value;
    }
  }
  const hubs = new HubServer({ logger: silentLogger }).mapHub('/echo', EchoHub);
  const http = createServer();
  hubs.attach(http);
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = http.address().port;
  const counter = { n: 0 };
  const conns = await Promise.all(
    Array.from({ length: Number(opt.connections) }, () => connect(port, Number(opt.window), counter)),
  );
  await sleep(1_500); // warm-up
  const before = process.cpuUsage();
  const n0 = counter.n;
  const t0 = process.hrtime.bigint();
  await sleep(Number(opt.seconds) * 1000);
  const cpu = process.cpuUsage(before);
  const n = counter.n - n0;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const c of conns) c.stop();
  await hubs.close();
  http.close();
  process.stdout.write(
    `${JSON.stringify({ mode, invocations: n, perSecond: n / elapsed, cpuUsPerInvocation: (cpu.user + cpu.system) / n })}\n`,
  );
  process.exit(0);
}

/** The metrics SDK, and with `traces` the tracing SDK and the async context manager. */
async function registerSdk(traces) {
  const { context, metrics, trace } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } =
    await import('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  if (traces) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    // Every span is sampled and batched; the exporter drops them (the cost is building them).
    const dropping = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] }),
    );
  }
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  metrics.setGlobalMeterProvider(
    new MeterProvider({
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000 })],
    }),
  );
  setInterval(() => exporter.reset(), 1_000).unref();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One raw connection that keeps `window` echo invocations in flight; counts completions. */
function connect(port, window, counter) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    let id = 0;
    let running = true;
    let handshaken = false;
    const invoke = () => {
      if (running)
        ws.send(
          `{"type":1,"invocationId":"${++id}","target":"echo","arguments":["hello, switchboard"]}${RS}`,
        );
    };
    ws.on('open', () => ws.send(`{"protocol":"json","version":1}${RS}`));
    ws.on('error', reject);
    ws.on('message', (data) => {
      for (const frame of data.toString().split(RS)) {
        if (frame === '') continue;
        if (!handshaken) {
          handshaken = true;
          for (let i = 0; i < window; i++) invoke();
          resolve({
            stop() {
              running = false;
              ws.close();
            },
          });
        } else if (frame.startsWith('{"type":3')) {
          counter.n++;
          invoke();
        }
      }
    });
  });
}

function run(mode) {
  const args = [fileURLToPath(import.meta.url), '--child', mode, ...process.argv.slice(2)];
  const pinned = existsSync('/usr/bin/taskset') && cpus().length > 1;
  const result = spawnSync(pinned ? '/usr/bin/taskset' : process.execPath, [
    ...(pinned ? ['-c', '0', process.execPath] : []),
    ...args,
  ]);
  const line = result.stdout.toString().trim().split('\n').at(-1);
  if (result.status !== 0 || !line) throw new Error(`the ${mode} run failed: ${result.stderr}`);
  return JSON.parse(line);
}

async function main() {
  const reps = Number(opt.reps);
  const results = { api: [], metrics: [], sdk: [] };
  for (let rep = 0; rep < reps; rep++) {
    const modes = ['api', 'metrics', 'sdk'];
    for (const mode of rep % 2 === 0 ? modes : modes.toReversed()) {
      const r = run(mode);
      results[mode].push(r);
      console.log(
        `rep ${rep + 1} ${mode}: ${r.perSecond.toFixed(0)} invocations/s, ${r.cpuUsPerInvocation.toFixed(2)} µs CPU per invocation`,
      );
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const summary = Object.fromEntries(
    Object.entries(results).map(([mode, rs]) => [
      mode,
      {
        cpuUsPerInvocation: median(rs.map((r) => r.cpuUsPerInvocation)),
        perSecond: median(rs.map((r) => r.perSecond)),
      },
    ]),
  );
  const { connections, window, seconds } = opt;
  console.log(
    JSON.stringify({ node: process.version, connections, window, seconds, reps, summary }, null, 2),
  );
  for (const mode of ['metrics', 'sdk']) {
    const extra = summary[mode].cpuUsPerInvocation - summary.api.cpuUsPerInvocation;
    console.log(`${mode}: ${extra.toFixed(2)} µs CPU more per invocation than the API alone`);
  }
}
