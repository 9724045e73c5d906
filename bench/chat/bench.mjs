// One run of the chat benchmark: seed, start the chat, connect every user from the load
// generators, send at a fixed total rate, drain, then count what was stored and what arrived.
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanupRun,
  population,
  prepareRun,
  processTree,
  seed,
  startServers,
  storedSeqs,
  usage,
} from './cluster.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** Sends a command to a generator and resolves with its answer (rejects on `ok: false`). */
function ask(child, msg, timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (m.cmd !== msg.cmd) return;
      done();
      if (m.ok) resolve(m);
      else reject(new Error(`generator: ${m.error}`));
    };
    const onExit = (code) => {
      done();
      reject(new Error(`generator exited (${code}) during ${msg.cmd}`));
    };
    const t = setTimeout(() => {
      done();
      reject(new Error(`generator: no answer to ${msg.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(t);
      child.off('message', onMsg);
      child.off('exit', onExit);
    };
    child.on('message', onMsg);
    child.on('exit', onExit);
    child.send(msg);
  });
}

/** The q-quantile (0..1) of a merged histogram [[bucket, count]], in ms. */
function quantile(histogram, bucketMs, q) {
  const total = histogram.reduce((a, [, c]) => a + c, 0);
  if (total === 0) return null;
  const want = Math.ceil(q * total);
  let seen = 0;
  for (const [b, c] of histogram) {
    seen += c;
    if (seen >= want) return (b + 1) * bucketMs;
  }
  return null;
}

/**
 * Runs one configuration at one size and rate.
 * @param {object} o {config, users, rate, seconds, warmup, roomSize, directShare, generators, tag, log}
 * @returns {Promise<object>} the run's report (see bench/README.md, "The chat's own benchmark")
 */
export async function runChat(o) {
  const log = o.log ?? (() => {});
  const run = prepareRun(o.config, o.tag);
  const pop = population(o.users, o.roomSize ?? 50);
  const started = Date.now();
  const loadBefore = loadavg();
  let servers;
  const gens = [];
  try {
    const users = await seed(run, pop);
    log(`seeded ${pop.users} users, ${pop.groups} rooms, ${pop.directs} direct conversations`);
    servers = await startServers(run, o.env);
    // Users are spread over the nodes (round robin) and over the generators (blocks).
    users.forEach((u, i) => {
      u.url = servers.urls[i % servers.urls.length];
    });
    const k = o.generators ?? 2;
    for (let g = 0; g < k; g++) {
      const child = fork(join(here, 'loadgen.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      gens.push(child);
      await ask(child, { cmd: 'setup', index: g, users: users.filter((_, i) => i % k === g) });
    }
    const connected = await Promise.all(gens.map((c) => ask(c, { cmd: 'connect', concurrency: 50 })));
    const online = connected.reduce((a, c) => a + c.connected, 0);
    const connectFailed = connected.reduce((a, c) => a + c.failed, 0);
    log(
      `${online} online${connectFailed ? `, ${connectFailed} failed: ${connected.find((c) => c.firstError)?.firstError}` : ''}`,
    );
    await new Promise((r) => setTimeout(r, 2_000)); // presence notices settle
    const serverPids = processTree(servers.pids);
    const t0 = Date.now();
    const measureFrom = t0 + (o.warmup ?? 5) * 1000;
    const measureTo = measureFrom + o.seconds * 1000;
    const sending = Promise.all(
      gens.map((c) =>
        ask(c, {
          cmd: 'send',
          rate: o.rate / k,
          directShare: o.directShare ?? 0.1,
          measureFrom,
          measureTo,
          until: measureTo,
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, measureFrom - Date.now()));
    const u0 = usage(serverPids);
    const gen0 = usage(gens.map((c) => c.pid));
    const redis0 = run.redis?.pid ? usage([run.redis.pid]) : null;
    let rssPeak = u0.rss;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, usage(serverPids).rss);
    }, 1000);
    await new Promise((r) => setTimeout(r, Math.max(0, measureTo - Date.now())));
    const u1 = usage(serverPids);
    const gen1 = usage(gens.map((c) => c.pid));
    const redis1 = run.redis?.pid ? usage([run.redis.pid]) : null;
    const loadDuring = loadavg();
    clearInterval(sampler);
    const sends = await sending;
    const acked = sends.reduce((a, s) => a + s.acked, 0);
    log(`sent ${sends.reduce((a, s) => a + s.sent, 0)}, acked ${acked}`);
    // Drain: until every delivery of what the storage holds arrived (the storage read again each
    // second, as answers may still be on their way), or nothing moved for 15 s.
    const roomIds = [...new Set(users.flatMap((u) => [u.group, u.direct]))];
    const members = new Map();
    for (const u of users) {
      members.set(u.group, (members.get(u.group) ?? 0) + 1);
      if (u.direct !== u.group) members.set(u.direct, (members.get(u.direct) ?? 0) + 1);
    }
    let lastSeq = {};
    let expected = 0;
    let last = -1;
    let still = Date.now();
    for (;;) {
      lastSeq = await storedSeqs(run, roomIds);
      expected = Object.entries(lastSeq).reduce((a, [r, n]) => a + n * (members.get(r) ?? 0), 0);
      const got = (await Promise.all(gens.map((c) => ask(c, { cmd: 'progress' })))).reduce(
        (a, p) => a + p.received,
        0,
      );
      if (got >= expected) break;
      if (got !== last) {
        last = got;
        still = Date.now();
      } else if (Date.now() - still > 15_000) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const stored = Object.values(lastSeq).reduce((a, b) => a + b, 0);
    const checks = await Promise.all(gens.map((c) => ask(c, { cmd: 'check', lastSeq })));
    const merged = new Map();
    for (const c of checks) for (const [b, n] of c.histogram) merged.set(b, (merged.get(b) ?? 0) + n);
    const histogram = [...merged.entries()].sort((a, b) => a[0] - b[0]);
    const bucketMs = checks[0].bucketMs;
    const window = (measureTo - measureFrom) / 1000;
    const sentTotal = sends.reduce((a, s) => a + s.sent, 0);
    const errors = {};
    for (const s of sends) for (const [c, n] of Object.entries(s.errors)) errors[c] = (errors[c] ?? 0) + n;
    const lost = checks.reduce((a, c) => a + c.lost, 0);
    const dup = checks.reduce((a, c) => a + c.dup, 0);
    const windowAcked = sends.reduce((a, s) => a + s.windowAcked, 0);
    const storedPerSecond = windowAcked / window;
    const windowDeliveries = histogram.reduce((a, [, n]) => a + n, 0);
    const cpuUs = u1.cpuUs - u0.cpuUs;
    const report = {
      config: o.config,
      label: run.label,
      users: pop.users,
      online,
      connectFailed,
      roomSize: pop.roomSize,
      rooms: pop.groups,
      directs: pop.directs,
      directShare: o.directShare ?? 0.1,
      rate: o.rate,
      warmupSeconds: o.warmup ?? 5,
      seconds: o.seconds,
      generators: k,
      sent: sentTotal,
      acked,
      failed: sends.reduce((a, s) => a + s.failed, 0),
      unanswered: sends.reduce((a, s) => a + s.unanswered, 0),
      errors,
      stored,
      storedMatchesAcked: stored === acked,
      storedPerSecond,
      expectedDeliveries: expected,
      received: checks.reduce((a, c) => a + c.received, 0),
      deliveriesPerSecond: windowDeliveries / window,
      lost,
      dup,
      unexpected: checks.reduce((a, c) => a + c.unexpected, 0),
      // Connections that closed during the run (none is reopened: what they missed counts as lost).
      connectionsClosed: checks.reduce((a, c) => a + c.closed, 0),
      closeReasons: checks.reduce((a, c) => {
        for (const [why, n] of Object.entries(c.closeReasons)) a[why] = (a[why] ?? 0) + n;
        return a;
      }, {}),
      latencyMs: {
        p50: quantile(histogram, bucketMs, 0.5),
        p99: quantile(histogram, bucketMs, 0.99),
        max: histogram.length ? (histogram.at(-1)[0] + 1) * bucketMs : null,
        samples: windowDeliveries,
      },
      serverCpuUsPerMessage: windowAcked > 0 ? cpuUs / windowAcked : null,
      // What one core given to the server alone would store at this CPU cost (a projection: the
      // server's share of a busy machine is what limits the measured rate).
      projectedPerCore: windowAcked > 0 && cpuUs > 0 ? (1e6 * windowAcked) / cpuUs : null,
      serverCpuPercent: (cpuUs / 1e6 / window) * 100,
      serverProcesses: serverPids.length,
      serverRssBytes: u1.rss,
      serverRssPeakBytes: Math.max(rssPeak, u1.rss),
      generatorCpuPercent: ((gen1.cpuUs - gen0.cpuUs) / 1e6 / window) * 100,
      redisCpuPercent: redis0 ? ((redis1.cpuUs - redis0.cpuUs) / 1e6 / window) * 100 : null,
      loadavgBefore: loadBefore,
      loadavgDuring: loadDuring,
      wallSeconds: (Date.now() - started) / 1000,
    };
    report.sustained =
      report.online === report.users &&
      report.lost === 0 &&
      report.dup === 0 &&
      report.failed === 0 &&
      report.unanswered === 0 &&
      report.connectionsClosed === 0 &&
      report.storedMatchesAcked &&
      report.storedPerSecond >= 0.97 * o.rate &&
      report.latencyMs.p99 !== null &&
      report.latencyMs.p99 < 1000;
    report.meetsTarget = report.sustained && report.latencyMs.p99 < 100;
    return report;
  } finally {
    await Promise.allSettled(gens.map((c) => ask(c, { cmd: 'close' }, 30_000)));
    for (const c of gens) c.kill();
    await servers?.stop();
    await cleanupRun(run);
  }
}
