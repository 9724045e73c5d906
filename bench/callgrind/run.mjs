// Server instructions per operation under valgrind's callgrind: Switchboard against a raw `ws`
// server doing the same exchanges, side by side in one run (issue #16, "The cost of a message and
// of a connection").
//
//   npm run build && node bench/callgrind/run.mjs [--reps 9] [--echoes 2000] [--clients 8]
//                                                 [--connections 200] [--concurrency 4]
//                                                 [--only echo|storm] [--peers switchboard,ws]
//                                                 (peers: switchboard, ws, ws-signalr,
//                                                 switchboard-baseline with --baseline ENTRY)
//
// Both servers (bench/callgrind/server.mjs) run under `valgrind --tool=callgrind` at once; this
// process is the client, outside valgrind. Per repetition and peer: the counters are zeroed
// (`callgrind_control -z`), the operations run, the counters are dumped (`callgrind_control -d`)
// and the dump's total of instructions (Ir, every thread of the server: JavaScript, the JIT, GC,
// libuv, OpenSSL) is divided by the operations. Peers alternate within every repetition. Kernel
// work (syscalls, TCP) is not in the count: callgrind sees user space only.
//
//   echo   `--clients` WebSocket connections (negotiate + handshake for Switchboard), each with one
//          invocation in flight, as the official client sends it:
//          {"arguments":[p],"invocationId":"n","target":"echo","type":1}␞ answered by the
//          completion {"type":3,"invocationId":"n","result":p}␞; the raw peer gets the same text
//          frame and sends it back.
//   storm  `--connections` connections opened `--concurrency` at a time: POST /bench/negotiate
//          (Switchboard: negotiate v1; ws: a small JSON answer), then the upgrade (Switchboard: with
//          ?id=<token>, then the JSON handshake and its answer). They are closed after the dump.
//
// `ws-signalr` (the SignalR JSON control of bench/servers/signalr-control.mjs) is spoken to as
// Switchboard is: its count over raw `ws` is the JSON hub protocol's codec, Switchboard's over it
// the hub layer.
//
// Result: bench/results/callgrind-<time>.json and a table on stdout (median, min-max, ratio of
// the medians to ws).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: opt } = parseArgs({
  options: {
    reps: { type: 'string', default: '9' },
    echoes: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '8' },
    connections: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    only: { type: 'string' },
    peers: { type: 'string', default: 'switchboard,ws' },
    label: { type: 'string', default: '' },
    baseline: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const REPS = Number(opt.reps);
const ECHOES = Number(opt.echoes);
const CLIENTS = Number(opt.clients);
const CONNECTIONS = Number(opt.connections);
const CONCURRENCY = Number(opt.concurrency);
const PAYLOAD = 'x'.repeat(128);
const SETTLE_MS = 2000;
const scenarios = opt.only ? [opt.only] : ['echo', 'storm'];
const here = fileURLToPath(new URL('.', import.meta.url));
// --cpu-prof DIR: the peers run without valgrind, with `node --cpu-prof` writing DIR/<peer>.cpuprofile
// when they exit (the counts printed are then zero): where the time goes, not how much.
const PROFILE = opt['cpu-prof'];
const tmp = mkdtempSync(join(os.tmpdir(), 'perf-callgrind-'));

/** Runs a command; resolves with its stdout. */
const run = (cmd, args) =>
  new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'utf8' }, (e, out, err) =>
      e ? reject(new Error(`${cmd}: ${err || e.message}`)) : resolve(out),
    ),
  );

/** Starts one peer under callgrind; resolves once it listens. */
function startPeer(name) {
  const out = join(tmp, name);
  mkdirSync(out);
  const server = join(here, 'server.mjs');
  // `switchboard-baseline`: the Switchboard peer from another build (--baseline ENTRY).
  const kind = name === 'switchboard-baseline' ? 'switchboard' : name;
  const env =
    name === 'switchboard-baseline'
      ? { ...process.env, SWITCHBOARD_SERVER_ENTRY: opt.baseline }
      : process.env;
  const child = PROFILE
    ? spawn(
        process.execPath,
        ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`, server, name],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      )
    : spawn(
        'valgrind',
        [
          '--tool=callgrind',
          `--callgrind-out-file=${out}/cg.%p`,
          '--dump-instr=no',
          '--collect-jumps=no',
          process.execPath,
          server,
          kind,
        ],
        { stdio: ['pipe', 'pipe', 'pipe'], env },
      );
  let err = '';
  child.stderr.on('data', (d) => {
    err = (err + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ name, child, dir: out, port: JSON.parse(buf.slice(0, nl)).port });
    });
    child.on('exit', (code) => {
      const e = new Error(`${name} exited ${code}: ${err}`);
      if (!exiting) console.error(e.message);
      reject(e);
    });
  });
}

/** Zeroes the peer's counters. */
const zero = (peer) =>
  PROFILE ? Promise.resolve() : run('callgrind_control', ['-z', String(peer.child.pid)]);

/** Dumps the peer's counters; resolves with the instructions since the last zero. */
async function dump(peer) {
  if (PROFILE) return 0;
  const before = new Set(readdirSync(peer.dir));
  await run('callgrind_control', ['-d', String(peer.child.pid)]);
  for (let i = 0; i < 200; i++) {
    const fresh = readdirSync(peer.dir).filter((f) => !before.has(f));
    for (const f of fresh) {
      const text = readFileSync(join(peer.dir, f), 'utf8');
      const m = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
      if (m) {
        if (process.env.CALLGRIND_KEEP) writeFileSync(`${process.env.CALLGRIND_KEEP}.${peer.name}`, text);
        rmSync(join(peer.dir, f));
        return Number(m[1]);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${peer.name}: no dump`);
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
// The official client's negotiate request (its headers; empty body).
const NEGOTIATE_HEADERS = {
  'X-Requested-With': 'XMLHttpRequest',
  'X-SignalR-User-Agent': 'Microsoft SignalR/8.0 (8.0.7; Linux; NodeJS; v20)',
  'content-type': 'text/plain;charset=UTF-8',
  'content-length': '0',
};

/** Whether the peer is spoken to as a SignalR server (negotiate token, handshake, invocations). */
const speaksSignalR = (peer) => peer.name.startsWith('switchboard') || peer.name === 'ws-signalr';

/** POSTs to the peer's negotiate path; resolves with the JSON answer. */
function post(peer, retry = true) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: peer.port,
        path: '/bench/negotiate?negotiateVersion=1',
        method: 'POST',
        agent,
        headers: NEGOTIATE_HEADERS,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode} ${body}`)),
        );
      },
    );
    // A kept-alive socket the server closed meanwhile: Node's documented race; try again once.
    req.on('error', (e) =>
      req.reusedSocket && e.code === 'ECONNRESET' && retry ? resolve(post(peer, false)) : reject(e),
    );
    req.setTimeout(120_000, () => req.destroy(new Error('negotiate timeout')));
    req.end();
  });
}

/** Opens one connection the way the scenario's client would; resolves with the open socket. */
async function open(peer) {
  const n = await post(peer);
  const sb = speaksSignalR(peer);
  const url = `ws://127.0.0.1:${peer.port}/bench${sb ? `?id=${encodeURIComponent(n.connectionToken)}` : ''}`;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('open timeout')), 120_000);
    ws.once('error', reject);
    ws.once('open', () => {
      if (!sb) {
        clearTimeout(t);
        resolve();
        return;
      }
      ws.send('{"protocol":"json","version":1}\x1e');
      ws.once('message', (m) => {
        clearTimeout(t);
        if (String(m) !== '{}\x1e') reject(new Error(`handshake: ${m}`));
        else resolve();
      });
    });
  });
  ws.on('error', () => {});
  return ws;
}

/** Closes sockets and waits for each to be closed. */
const closeAll = (sockets) =>
  Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', resolve);
          ws.close(1000);
        }),
    ),
  );

/** Opens `count` connections, `concurrency` at a time. */
async function storm(peer, count, concurrency) {
  const sockets = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      sockets.push(await open(peer));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sockets;
}

/** `total` echo round trips over `sockets`, one in flight per socket. */
function echo(peer, sockets, total) {
  const sb = speaksSignalR(peer);
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('echo timeout')), 600_000);
    const next = (ws) => {
      if (sent >= total) return;
      const id = sent++;
      ws.send(
        sb
          ? `{"arguments":["${PAYLOAD}"],"invocationId":"${id}","target":"echo","type":1}\x1e`
          : `e${id}:${PAYLOAD}`,
      );
    };
    for (const ws of sockets) {
      ws.removeAllListeners('message');
      ws.on('message', (m) => {
        const s = String(m);
        if (sb ? !s.startsWith('{"type":3,') || !s.includes(PAYLOAD) : !s.endsWith(PAYLOAD)) {
          if (sb && s === '{"type":6}\x1e') return; // keep-alive ping
          clearTimeout(t);
          reject(new Error(`${peer.name}: unexpected ${s.slice(0, 200)}`));
          return;
        }
        if (++done === total) {
          clearTimeout(t);
          resolve();
        } else next(ws);
      });
      next(ws);
    }
  });
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1), values: xs };
};

const peers = [];
let exiting = false;
try {
  for (const name of opt.peers.split(',')) peers.push(await startPeer(name));
  const echoSockets = new Map();
  // Warm-up: code loaded and compiled on both paths before anything is counted.
  for (const peer of peers) {
    for (let w = 0; w < Number(opt.warmup); w++) await closeAll(await storm(peer, CONNECTIONS, CONCURRENCY));
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const sockets = await storm(peer, CLIENTS, 1);
    echoSockets.set(peer.name, sockets);
    await echo(peer, sockets, ECHOES * 2);
  }
  const results = Object.fromEntries(
    scenarios.map((s) => [s, Object.fromEntries(peers.map((p) => [p.name, []]))]),
  );
  for (let r = 0; r < REPS; r++) {
    for (const scenario of scenarios) {
      // Alternate which peer goes first.
      const order = r % 2 ? [...peers].reverse() : peers;
      for (const peer of order) {
        let ir;
        if (scenario === 'echo') {
          await zero(peer);
          await echo(peer, echoSockets.get(peer.name), ECHOES);
          ir = (await dump(peer)) / ECHOES;
        } else {
          await zero(peer);
          const sockets = await storm(peer, CONNECTIONS, CONCURRENCY);
          ir = (await dump(peer)) / CONNECTIONS;
          await closeAll(sockets);
          // The server's side of the closes (and what they leave to collect) ends before the next count.
          await new Promise((r) => setTimeout(r, SETTLE_MS));
        }
        results[scenario][peer.name].push(Math.round(ir));
        console.error(`rep ${r + 1}/${REPS} ${scenario} ${peer.name}: ${Math.round(ir)} instr/op`);
      }
    }
  }
  const rows = [];
  for (const scenario of scenarios) {
    const base = results[scenario].ws ? stats(results[scenario].ws).median : undefined;
    for (const peer of peers) {
      const s = stats(results[scenario][peer.name]);
      rows.push({ scenario, peer: peer.name, ...s, ratioToWs: base ? s.median / base : undefined });
    }
  }
  const result = {
    at: new Date().toISOString(),
    label: opt.label,
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, load: os.loadavg() },
    node: process.version,
    valgrind: (await run('valgrind', ['--version'])).trim(),
    options: {
      reps: REPS,
      echoes: ECHOES,
      clients: CLIENTS,
      connections: CONNECTIONS,
      concurrency: CONCURRENCY,
      payloadBytes: PAYLOAD.length,
    },
    rows,
  };
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}callgrind-${result.at.replace(/[:.]/g, '-')}.json`;
  if (!PROFILE) writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
  for (const r of rows)
    console.log(
      `${r.scenario.padEnd(6)} ${r.peer.padEnd(20)} ${String(r.median).padStart(9)} instr/op (${r.min}-${r.max}, spread ${(((r.max - r.min) / r.median) * 100).toFixed(1)} %)${r.ratioToWs ? ` ${r.ratioToWs.toFixed(2)}x ws` : ''}`,
    );
  if (!PROFILE) console.log(file);
} finally {
  // The peers exit when their stdin ends (and write their profiles then, with --cpu-prof).
  exiting = true;
  agent.destroy();
  for (const p of peers) p.child.stdin.end();
  await new Promise((r) => setTimeout(r, PROFILE ? 3000 : 500));
  for (const p of peers) if (p.child.exitCode === null) p.child.kill();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
