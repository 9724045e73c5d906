// Fairness on the conformance server (issue #18): how long an unrelated client's invoke takes while
// one abusive connection pipelines Echo calls.
//
//   npm run build && node bench/fairness.mjs [--seconds 10] [--only burst] [--json out.json]
//
// The conformance server (conformance/dist/main.js) runs in its own process on core 0 (taskset when
// available); both clients run here (core 1), over raw WebSockets with the JSON protocol. The
// probe invokes Echo once every 5 ms and times each round trip. Cases, each on a fresh server:
//   idle        no abusive client (the floor)
//   pipelined   the abusive connection keeps 20,000 Echo calls in flight, in frames of 2,000
//   burst       1 s into the probe, the abusive connection sends one 8 MiB frame of Echo calls
//               (about 128,000), then waits
// each with the server's defaults, and with the budget and queue bound lifted
// (--max-messages-per-turn and --max-queued-invocations at 1e9: every parsed message handled at once,
// as before the fairness work). Every wait is bounded. Figures are latencies in ms.
import { fork, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    json: { type: 'string' },
    // Internal: this process is the abusive client (a child of the orchestrator).
    abuser: { type: 'string' },
    // Only the cases whose name contains this.
    only: { type: 'string' },
    url: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RS = '\x1e';
const PROBE_EVERY_MS = 5;
const LIFTED = ['--max-messages-per-turn', '1000000000', '--max-queued-invocations', '1000000000'];

const pinning = cpus().length >= 2 && spawnSync('taskset', ['-c', '1', 'true']).status === 0;
if (pinning) spawnSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });

/** Starts the abusive client (`kind`) in a child process; resolves once it is connected. */
async function startAbuser(kind, url) {
  const child = fork(fileURLToPath(import.meta.url), ['--abuser', kind, '--url', url], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await withTimeout(
    new Promise((resolve, reject) => {
      child.on('message', (m) => m?.type === 'ready' && resolve());
      child.once('exit', (code) => reject(new Error(`the abusive client exited (${code})`)));
    }),
    60_000,
    'the abusive client',
  );
  return {
    go() {
      child.send({ cmd: 'go' });
    },
    async stop() {
      const done = new Promise((resolve) =>
        child.on('message', (m) => m?.type === 'done' && resolve(m.done)),
      );
      child.send({ cmd: 'stop' });
      const count = await withTimeout(done, 10_000, 'the abusive client to stop').catch(() => 0);
      child.kill('SIGKILL');
      return count;
    },
  };
}

/** Starts the conformance server; resolves with its URL and process. */
async function startServer(flags) {
  const cmd = [process.execPath, `${ROOT}conformance/dist/main.js`, '--port', '0', ...flags];
  if (pinning) cmd.unshift('taskset', '-c', '0');
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not start within 30 s')), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /Now listening on: (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  return { url, child };
}

async function stopServer(child) {
  if (child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

/** A raw JSON hub connection (skipNegotiation) that counts Completions by id. */
async function connect(url, onCompletion) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/testhub`, { maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let handshaken = false;
  const ready = new Promise((resolve) => {
    ws.on('message', (data) => {
      const text = data.toString();
      for (const part of text.split(RS)) {
        if (part.length === 0) continue;
        if (!handshaken) {
          handshaken = true;
          resolve();
          continue;
        }
        // Completions only: `"type":3` with an invocationId.
        if (part.startsWith('{"type":3')) {
          const id = /"invocationId":"([^"]+)"/.exec(part)?.[1];
          if (id !== undefined) onCompletion(id);
        }
      }
    });
  });
  ws.send(`{"protocol":"json","version":1}${RS}`);
  await withTimeout(ready, 120_000, 'the handshake');
  return ws;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const echo = (id, text = 'x') =>
  `{"type":1,"invocationId":"${id}","target":"Echo","arguments":["${text}"]}${RS}`;

/** The abusive connection: keeps `inFlight` calls outstanding in frames of `batch`, until stopped. */
async function pipelined(url, inFlight, batch) {
  let sent = 0;
  let done = 0;
  let stopped = false;
  let ws;
  const top = () => {
    while (!stopped && sent - done <= inFlight - batch) {
      let frame = '';
      for (let i = 0; i < batch; i++) frame += echo(`a${sent++}`);
      ws.send(frame);
    }
  };
  ws = await connect(url, () => {
    done++;
    if (done % batch === 0) top();
  });
  top();
  return {
    stop() {
      stopped = true;
      ws.terminate();
      return done;
    },
  };
}

/** The abusive connection: one frame of as many calls as fit in `bytes` (the server's frame limit). */
async function burst(url, bytes) {
  let done = 0;
  const ws = await connect(url, () => done++);
  const parts = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const call = echo(i.toString(36), '');
    if (size + call.length > bytes) break;
    parts.push(call);
    size += call.length;
  }
  const frame = parts.join('');
  return {
    go() {
      ws.send(frame);
    },
    stop() {
      ws.terminate();
      return done;
    },
  };
}

/** Invokes Echo every PROBE_EVERY_MS for `seconds`; returns every round trip in ms. */
async function probe(url, seconds) {
  const started = new Map();
  const latencies = [];
  const ws = await connect(url, (id) => {
    const at = started.get(id);
    if (at === undefined) return;
    started.delete(id);
    latencies.push(performance.now() - at);
  });
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    const id = `p${n++}`;
    started.set(id, performance.now());
    ws.send(echo(id));
    await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
  }
  // The last answers, for at most 30 s: a call still unanswered counts as its wait so far.
  const deadline = performance.now() + 30_000;
  while (started.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const at of started.values()) latencies.push(performance.now() - at);
  ws.terminate();
  return { sent: n, latencies };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runCase(name, flags, abuse) {
  const { url, child } = await startServer(flags);
  try {
    const abuser = abuse ? await startAbuser(abuse, url) : undefined;
    // A pipelined load settles before the probe starts; a burst is sent 1 s into the probe.
    if (abuse === 'pipelined') await new Promise((r) => setTimeout(r, 500));
    if (abuse === 'burst') setTimeout(() => abuser.go(), 1_000);
    const t0 = performance.now();
    const { sent, latencies } = await probe(url, SECONDS);
    const seconds = (performance.now() - t0) / 1000;
    const abusiveDone = abuser ? await abuser.stop() : 0;
    const sorted = [...latencies].sort((a, b) => a - b);
    const row = {
      case: name,
      flags: flags.join(' '),
      probes: sent,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1),
      abusiveCompletions: abusiveDone,
      abusivePerSecond: Math.round(abusiveDone / seconds),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await stopServer(child);
  }
}

async function orchestrate() {
  const cases = [
    ['idle', [], undefined],
    ['pipelined', [], 'pipelined'],
    ['pipelined, no budget', LIFTED, 'pipelined'],
    ['burst: one 8 MiB frame', [], 'burst'],
    ['burst: one 8 MiB frame, no budget', LIFTED, 'burst'],
  ];
  const rows = [];
  for (const [name, flags, abuse] of cases) {
    if (values.only !== undefined && !name.includes(values.only)) continue;
    rows.push(await runCase(name, flags, abuse));
  }
  const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
  console.log('\n| Case | Probe p50 (ms) | Probe p99 (ms) | Probe max (ms) | Abusive calls answered / s |');
  console.log('| ---- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.abusivePerSecond.toLocaleString('en')} |`,
    );
  }
  if (values.json) {
    const result = { at: new Date().toISOString(), seconds: SECONDS, pinning, load: loadAverage(), rows };
    writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  }
}

function loadAverage() {
  try {
    return spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  } catch {
    return null;
  }
}

if (values.abuser !== undefined) {
  // The abusive client in its own process, so that its parsing does not slow the probe's.
  const abuser =
    values.abuser === 'burst'
      ? await burst(values.url, 8 * 1024 * 1024)
      : await pipelined(values.url, 20_000, 2_000);
  process.send?.({ type: 'ready' });
  process.on('message', (m) => {
    if (m?.cmd === 'go') abuser.go?.();
    if (m?.cmd !== 'stop') return;
    process.send?.({ type: 'done', done: abuser.stop() });
    setTimeout(() => process.exit(0), 50);
  });
} else {
  await orchestrate();
}
