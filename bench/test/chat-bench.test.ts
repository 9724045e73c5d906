// The chat's own benchmark (bench/chat/): a short real run (20 users, 10 messages per second for
// 3 s, SQLite in one process) whose report must be complete, with nothing lost or twice and every
// stored message delivered to every member; and the docs section and chart from a result file.
// Needs `npm run build` (the harness starts apps/chat-server/dist/main.js).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runChat } from '../chat/bench.mjs';
import { chatBenchSection, chatBenchSvg, latestRuns } from '../chat/report.mjs';

const root = new URL('../..', import.meta.url).pathname;

test('chat bench: 20 users at 10 msg/s for 3 s, everything stored and delivered once', async () => {
  assert.ok(
    existsSync(join(root, 'apps/chat-server/dist/main.js')),
    'apps/chat-server/dist is missing: run `npm run build` first',
  );
  const r = await runChat({
    config: 'sqlite',
    users: 20,
    rate: 10,
    seconds: 3,
    warmup: 1,
    generators: 1,
    tag: `test_${process.pid}`,
  });
  assert.equal(r.online, 20);
  assert.equal(r.connectFailed, 0);
  assert.equal(r.rooms, 1);
  assert.equal(r.directs, 10);
  assert.ok(r.sent >= 30, `sent ${r.sent}`);
  assert.equal(r.failed, 0, JSON.stringify(r.errors));
  assert.equal(r.acked, r.sent);
  assert.equal(r.stored, r.acked, 'the storage holds every answered message');
  assert.equal(r.lost, 0);
  assert.equal(r.dup, 0);
  assert.equal(r.unexpected, 0);
  assert.equal(r.connectionsClosed, 0, JSON.stringify(r.closeReasons));
  assert.equal(r.received, r.expectedDeliveries);
  // 90 % to the room of 20, 10 % to a direct conversation of 2.
  assert.ok(r.expectedDeliveries > r.acked * 2 && r.expectedDeliveries <= r.acked * 20);
  assert.ok(r.storedPerSecond > 0);
  assert.ok(r.deliveriesPerSecond > r.storedPerSecond);
  assert.ok(r.latencyMs.samples > 0);
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p99 >= r.latencyMs.p50 && r.latencyMs.max >= r.latencyMs.p99);
  assert.ok(r.serverCpuUsPerMessage > 0);
  assert.ok(r.serverRssBytes > 10 * 2 ** 20 && r.serverRssPeakBytes >= r.serverRssBytes);
  assert.equal(r.serverProcesses, 1);
  assert.equal(r.loadavgDuring.length, 3);
  assert.equal(typeof r.sustained, 'boolean');
});

test('chat bench report: newest run per configuration, size and rate; table, verdict and chart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chbh-report-'));
  try {
    mkdirSync(join(dir, 'bench', 'results'), { recursive: true });
    const run = (rate: number, p99: number, sustained: boolean) => ({
      config: 'sqlite',
      label: 'SQLite, one process',
      users: 5000,
      online: 5000,
      rate,
      storedPerSecond: rate,
      deliveriesPerSecond: rate * 45,
      latencyMs: { p50: 3, p99, max: p99 * 2, samples: 100 },
      serverCpuUsPerMessage: 800,
      serverRssPeakBytes: 300 * 2 ** 20,
      lost: 0,
      dup: 0,
      failed: 0,
      loadavgDuring: [6.5, 6, 5],
      sustained,
      meetsTarget: sustained && p99 < 100,
    });
    const file = (name: string, runs: unknown[]) =>
      writeFileSync(join(dir, 'bench', 'results', name), JSON.stringify({ runs, machine: {} }));
    file('chat-2026-01-01T00-00-00-000Z.json', [run(500, 400, true)]);
    file('chat-2026-01-02T00-00-00-000Z.json', [run(500, 80, true), run(1000, 3000, false)]);
    file('chat-fairness-2026-01-03T00-00-00-000Z.json', [run(500, 1, true)]);
    const runs = latestRuns(dir);
    assert.deepEqual(
      runs.map((r: { rate: number; latencyMs: { p99: number } }) => [r.rate, r.latencyMs.p99]),
      [
        [500, 80],
        [1000, 3000],
      ],
    );
    const md = chatBenchSection(dir);
    assert.match(md, /^## The chat's own benchmark/);
    assert.match(md, /\*\*met\*\*/);
    assert.match(md, /SQLite, one process: 500 msg\/s to 5,000 users \(1,000 was not\)/);
    assert.match(md, /load average 6\.5–6\.5/);
    const svg = chatBenchSvg(runs);
    assert.match(svg, /^<svg /);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, 6, 'two runs in three panels');
    assert.match(svg, /target 100 ms/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chat bench report: nothing to say without results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chbh-report-'));
  try {
    assert.equal(chatBenchSection(dir), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
