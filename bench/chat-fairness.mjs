#!/usr/bin/env node
// The chat under one abusive user (issue #18, finding 1). `npm run bench:chat-fairness [-- options]`
//
//   --seconds N     measured window per case (default 15)
//   --rooms N       rooms the abuser is in, each with a message, so listRooms has work (default 3)
//   --docs          write the result into docs/benchmarks.md (section "The chat under one abusive user")
//   --out FILE      result file (default bench/results/chat-fairness-<timestamp>.json)
//
// The chat server runs in its own process on SQLite (the source through tsx) with its default
// limits, except where a case says otherwise. One user (the abuser) holds 4 WebSockets, in a worker
// thread of its own; on each it sends 5,000 `listRooms` invocations in one frame, again as soon as
// they are answered, and reconnects when the server closes it. Another user (the victim, the
// official client over WebSockets) invokes `listRooms` once every 20 ms; the figure is the victim's
// invoke latency (p50, p99, max) over the window.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const CONNECTIONS = 4;
const PER_FRAME = 5_000;
const RS = '\u001e';

if (!isMainThread) {
  await abuse(workerData);
} else {
  await main();
}

/** The abuser's worker: 4 sockets pipelining listRooms until told to stop. */
async function abuse({ url, token }) {
  let stopping = false;
  const stats = { sent: 0, answered: 0, reconnects: 0, refusals: 0 };
  const sockets = new Set();
  parentPort.on('message', (m) => {
    if (m === 'stop') {
      stopping = true;
      for (const ws of sockets) ws.terminate();
      parentPort.postMessage(stats);
    }
  });
  const frame = Array.from(
    { length: PER_FRAME },
    (_, i) => `{"type":1,"invocationId":"${i}","target":"listRooms","arguments":[]}${RS}`,
  ).join('');
  const loop = async () => {
    while (!stopping) {
      const negotiate = await fetch(`${url}/hubs/chat/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      }).catch(() => undefined);
      if (!negotiate || negotiate.status !== 200) {
        await negotiate?.arrayBuffer();
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const { connectionToken } = await negotiate.json();
      const ws = new WebSocket(
        `${url.replace('http', 'ws')}/hubs/chat?id=${connectionToken}&access_token=${encodeURIComponent(token)}`,
      );
      sockets.add(ws);
      await new Promise((resolve) => {
        let pending = 0;
        let handshaken = false;
        ws.on('open', () => ws.send(`{"protocol":"json","version":1}${RS}`));
        ws.on('message', (data) => {
          const text = data.toString();
          if (!handshaken) {
            handshaken = true;
            pending = PER_FRAME;
            stats.sent += PER_FRAME;
            ws.send(frame);
            return;
          }
          for (const part of text.split(RS)) {
            if (!part.startsWith('{"type":3')) continue;
            stats.answered++;
            if (part.includes('"error"')) stats.refusals++;
            if (--pending === 0 && !stopping) {
              pending = PER_FRAME;
              stats.sent += PER_FRAME;
              ws.send(frame);
            }
          }
        });
        ws.on('error', () => {});
        ws.on('close', () => {
          sockets.delete(ws);
          if (!stopping) stats.reconnects++;
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      seconds: { type: 'string', default: '15' },
      rooms: { type: 'string', default: '3' },
      docs: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const seconds = Number(opt.seconds);
  const rooms = Number(opt.rooms);
  const cases = [
    { name: 'baseline', title: 'no abuser', abuser: false, env: {} },
    { name: 'defaults', title: 'abuser, default limits (INVOKE_RATE_LIMIT=30)', abuser: true, env: {} },
    {
      name: 'no-invoke-limit',
      title: 'abuser, INVOKE_RATE_LIMIT=0 (the storage budget alone)',
      abuser: true,
      env: { INVOKE_RATE_LIMIT: '0' },
    },
  ];
  const results = [];
  const loadBefore = loadavg()[0];
  for (const c of cases) {
    console.log(`== ${c.title}`);
    const r = await runCase(c, seconds, rooms);
    console.log(
      `   victim p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms (${r.samples} invokes)` +
        (r.abuser
          ? `; abuser sent ${r.abuser.sent}, answered ${r.abuser.answered}, refused ${r.abuser.refusals}, reconnects ${r.abuser.reconnects}`
          : ''),
    );
    results.push({ ...c, ...r });
  }
  const result = {
    at: new Date().toISOString(),
    seconds,
    rooms,
    connections: CONNECTIONS,
    perFrame: PER_FRAME,
    node: process.version,
    cpus: cpus().length,
    // Other work on the machine changes every figure: the 1-minute load average before and after.
    loadBefore,
    loadAfter: loadavg()[0],
    cases: results,
  };
  const out = opt.out ?? join(here, 'results', `chat-fairness-${result.at.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results: ${out}`);
  if (opt.docs) {
    const { writeChatFairnessSection } = await import('./lib/report-chat.mjs');
    writeChatFairnessSection(join(root, 'docs', 'benchmarks.md'), result, out.slice(root.length + 1));
    console.log('docs/benchmarks.md updated');
  }
}

async function runCase(c, seconds, rooms) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-chat-bench-'));
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(root, 'apps/chat-server/src/main.ts')],
    {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'error', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...c.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const url = await new Promise((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (d) => {
        text += d;
        const m = /listening on (http:\/\/\S+)/.exec(text);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`the chat exited (${code})`)));
    });
    const register = async (name) => {
      const r = await fetch(`${url}/api/auth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: name, password: 'password123', displayName: name }),
      });
      return (await r.json()).token;
    };
    const abuserToken = await register('abuser');
    const victimToken = await register('victim');
    const connect = (token) => {
      const hub = new HubConnectionBuilder()
        .withUrl(`${url}/hubs/chat`, {
          accessTokenFactory: () => token,
          transport: HttpTransportType.WebSockets,
          skipNegotiation: false,
        })
        .configureLogging(LogLevel.None)
        .build();
      return hub.start().then(() => hub);
    };
    const setup = await connect(abuserToken);
    for (let i = 0; i < rooms; i++) {
      const room = await setup.invoke('createRoom', { name: `room ${i}`, isPrivate: false });
      await setup.invoke('sendMessage', { roomId: room.id, text: `hello ${i}`, clientMessageId: `c${i}` });
    }
    await setup.stop();
    const victim = await connect(victimToken);
    for (let i = 0; i < 50; i++) await victim.invoke('listRooms'); // warm-up
    const worker = c.abuser
      ? new Worker(fileURLToPath(import.meta.url), { workerData: { url, token: abuserToken } })
      : undefined;
    if (worker) await new Promise((r) => setTimeout(r, 1_000)); // the flood is on
    const latencies = [];
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      const started = performance.now();
      await victim.invoke('listRooms');
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
    let abuser;
    if (worker) {
      abuser = await new Promise((resolve) => {
        worker.once('message', resolve);
        worker.postMessage('stop');
      });
      await worker.terminate();
    }
    await victim.stop();
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    return { samples: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies.at(-1), abuser };
  } finally {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}
