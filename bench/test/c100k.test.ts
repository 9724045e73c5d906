// A small run of the 100,000-connection bench (bench/c100k.mjs): 200 connections to the
// conformance server's 2 workers from 2 generator processes, a 2 s hold, one broadcast. It checks
// the report's fields and that the broadcast reached every connection once; the figures
// themselves are for the real run (docs/benchmarks.md). Needs `npm run build` (conformance/dist).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

test('c100k: 200 connections over 2 workers and 2 generators, held, then one broadcast to all', {
  timeout: 180_000,
}, async () => {
  const out = join(tmpdir(), `c100k-test-${process.pid}.json`);
  const args = ['bench/c100k.mjs', '--connections', '200', '--workers', '2', '--generators', '2'];
  // Pings every 500 ms: each connection pings that long after its handshake, within the 2 s hold.
  args.push('--hold-s', '2', '--per-source', '60', '--ping-every-ms', '500', '--out', out, '--quiet');
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `c100k exited ${code}: ${stderr}`);
  const r = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(out, { force: true });

  assert.equal(r.ok, true);
  assert.equal(r.options.connections, 200);
  // The primary and its 2 workers; each worker holds some of the connections.
  assert.equal(r.server.workers, 2);
  assert.equal(r.server.perProcessConnections.length, 3);
  for (const w of r.server.perProcessConnections.slice(1)) assert.ok(w.fds > 50, JSON.stringify(w));
  assert.equal(r.generators.count, 2);
  // 100 connections per generator at 60 per source address: 2 addresses each.
  assert.equal(r.generators.sourcesPerGenerator, 2);

  assert.equal(r.connect.open, 200);
  assert.ok(r.connect.totalMs > 0);
  assert.ok(r.connect.handshakeMs.p50 > 0 && r.connect.handshakeMs.p99 >= r.connect.handshakeMs.p50);
  for (const k of ['serverKiBPerConn', 'allKiBPerConn', 'serverMiB', 'generatorsMiB']) {
    assert.equal(typeof r.memory[k], 'number', k);
  }
  assert.ok(r.memory.serverMiB > 0 && r.memory.generatorsMiB > 0);

  assert.equal(r.hold.closed, 0);
  assert.equal(r.hold.liveAtEnd, 200);
  assert.ok(r.hold.clientPingsSent > 0, 'the clients pinged');

  assert.equal(r.broadcast.receivers, 200);
  assert.equal(r.broadcast.delivered, 200);
  assert.equal(r.broadcast.lost, 0);
  assert.equal(r.broadcast.duplicates, 0);
  assert.equal(r.broadcast.error, null);
  assert.ok(r.broadcast.allReceivedMs > 0);
  assert.equal(r.broadcast.perGenerator.length, 2);
  assert.equal(typeof r.broadcast.serverCpuUsPerDelivery, 'number');
});
