// Instructions per call of the pieces the issue #16 changes touched, before (a baseline build) and
// after (this checkout's build), in one process under callgrind: per case 20,000 calls of warm-up,
// zero the counters, 20,000 calls, dump (docs/benchmarks.md#instructions-per-operation-callgrind).
//
//   npm run build && mkdir -p /tmp/parts && valgrind --tool=callgrind --callgrind-out-file=/tmp/parts/cg.%p \
//     node bench/callgrind/parts.mjs /tmp/parts /path/to/baseline/packages/server/dist
//
// Each figure includes the same constant cost of the loop and of the control calls: compare them.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';

const [dir, base] = process.argv.slice(2);
const N = 20000;
const cur = new URL('../../packages/server/dist', import.meta.url).pathname;
const run = (args) =>
  new Promise((res, rej) => execFile('callgrind_control', args, (e) => (e ? rej(e) : res())));
async function measure(fn) {
  let sink;
  for (let i = 0; i < 20000; i++) sink = fn();
  await run(['-z', String(process.pid)]);
  for (let i = 0; i < N; i++) sink = fn();
  const before = new Set(readdirSync(dir));
  await run(['-d', String(process.pid)]);
  globalThis.s = sink;
  for (;;) {
    for (const f of readdirSync(dir).filter((f) => !before.has(f))) {
      const m = /^totals:\s+(\d+)/m.exec(readFileSync(`${dir}/${f}`, 'utf8'));
      if (m) {
        rmSync(`${dir}/${f}`);
        return Math.round(Number(m[1]) / N);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
const m = await import(`${cur}/http/http-connection-manager.js`);
const tb = await import(`${base}/telemetry/tracing.js`);
const tc = await import(`${cur}/telemetry/tracing.js`);
const db = await import(`${base}/hubs/hub-descriptor.js`);
const dc = await import(`${cur}/hubs/hub-descriptor.js`);
const hb = await import(`${base}/hubs/hub.js`);
const hc = await import(`${cur}/hubs/hub.js`);
const rb = await import(`${base}/http/http-request-info.js`);
class B extends hb.Hub {
  Echo(x) {
    return x;
  }
}
class C extends hc.Hub {
  Echo(x) {
    return x;
  }
}
const descB = new db.HubDescriptor(B, hb.Hub);
const descC = new dc.HubDescriptor(C, hc.Hub);
const url = '/bench?id=abcdefghijabcdefghij12';
const cases = {
  'two ids, randomBytes (before)': () =>
    randomBytes(16).toString('base64url') + randomBytes(16).toString('base64url'),
  'two ids, pooled (after)': () => m.newConnectionId() + m.newConnectionId(),
  'invocation span, no SDK (before)': () =>
    tb.startInvocationSpan(
      'BenchHub',
      '/bench',
      descB.find('Echo')?.name ?? 'unknown',
      'abcdefghijabcdefghij12',
      undefined,
    ),
  'invocation span, no SDK (after)': () =>
    tc.tracingEnabled()
      ? tc.startInvocationSpan('BenchHub', '/bench', descC.find('Echo')?.name ?? 'unknown', 'x', undefined)
      : undefined,
  'find "Echo" (before)': () => descB.find('Echo'),
  'find "Echo" (after)': () => descC.find('Echo'),
  'connection.opened fields (before)': () => ({
    hub: '/bench',
    connectionId: 'x',
    transport: 'WebSockets',
    url: rb.redactRequestUrl(url),
  }),
  'connection.opened fields (after)': () => ({
    hub: '/bench',
    connectionId: 'x',
    transport: 'WebSockets',
    get url() {
      return rb.redactRequestUrl(url);
    },
  }),
};
for (const [name, fn] of Object.entries(cases)) console.log(`${name}: ${await measure(fn)} instr/call`);
process.exit(0);
