// docs/benchmarks.md: the targets of issue #8 checked against one result. Ratios are of medians
// (server CPU per message, Switchboard over its baseline in the same run); the range next to each
// is the min–max of the per-repetition ratios (repetition i of one peer against repetition i of
// the other), so a ratio that holds only in some repetitions shows it.

const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));

/** Median ratio a/b of `field` in scenario `sc`, and the min–max of the per-repetition ratios. */
export function ratioOf(result, sc, a, b, field = 'serverUsPerMsg') {
  const sa = result.summary[sc]?.[a]?.[field]?.median;
  const sb = result.summary[sc]?.[b]?.[field]?.median;
  if (!sa || !sb) return null;
  const byRep = (p) => new Map((result.samples[sc]?.[p] ?? []).map((x) => [x.rep, x[field]]));
  const ra = byRep(a);
  const rb = byRep(b);
  const per = [...ra].filter(([rep, v]) => v && rb.get(rep)).map(([rep, v]) => v / rb.get(rep));
  return {
    median: sa / sb,
    min: per.length ? Math.min(...per) : null,
    max: per.length ? Math.max(...per) : null,
    a: sa,
    b: sb,
  };
}

function ratioRow(result, what, sc, a, b, limit) {
  const r = ratioOf(result, sc, a, b);
  if (!r) return `| ${what} | ≤ ${limit}× | not measured in this run | — |`;
  const range = r.min === null ? '' : ` (per repetition ${fmt(r.min)}–${fmt(r.max)})`;
  const measured = `${fmt(r.median)}×${range}: ${fmt(r.a)} vs ${fmt(r.b)} µs`;
  return `| ${what} | ≤ ${limit}× | ${measured} | ${r.median <= limit ? 'met' : 'missed'} |`;
}

function rssRow(result, what, sc, peer, limitKiB) {
  const s = result.summary[sc]?.[peer]?.rssPerConn;
  if (!s) return `| ${what} | ≤ ${limitKiB} KiB | not measured in this run | — |`;
  const kib = (x) => fmt(x / 1024, 1);
  const ws = result.summary[sc]?.ws?.rssPerConn;
  const measured = `${kib(s.median)} KiB (${kib(s.min)}–${kib(s.max)})${ws ? `; ws ${kib(ws.median)} KiB` : ''}`;
  return `| ${what} | ≤ ${limitKiB} KiB | ${measured} | ${s.median / 1024 <= limitKiB ? 'met' : 'missed'} |`;
}

function bigRow(result, vm) {
  // Where this machine's fd limit held the session back, a guest run (bench/vm) answers instead.
  if (result.method.bigSession?.limited && vm?.failure && !vm.result.summary?.broadcast_max) {
    const g = vm.result.machine.vm ?? {};
    return bigRow(result).replace(
      /\| ([^|]*) \|$/,
      (_, verdict) =>
        `| ${verdict}; in a ${g.hypervisor ?? 'qemu'} guest: ${vm.failure.error} (\`${vm.file}\`) |`,
    );
  }
  if (result.method.bigSession?.limited && vm && !vm.result.method.bigSession?.limited) {
    const g = vm.result.machine.vm ?? {};
    return bigRow(vm.result).replace(
      /\| ([^|]*) \|$/,
      (_, verdict) =>
        `| ${verdict}, in a ${g.hypervisor ?? 'qemu'} guest (\`${vm.file}\`; this host: ${result.method.bigSession.connections.toLocaleString('en-US')}, fd limit) |`,
    );
  }
  const m = result.method.bigSession;
  const bc = result.summary.broadcast_max?.switchboard;
  const idle = result.samples.idle_max?.switchboard ?? [];
  if (!m || !bc)
    return '| 100,000 connections on one node | all handshakes, 5 min idle, no timeouts, one broadcast to all | not measured in this run | — |';
  const n = m.connections;
  const timeouts = idle.length ? Math.max(...idle.map((x) => x.timeouts)) : null;
  const delivered = bc.msgs?.min ?? 0;
  const rss = result.summary.idle_rss_max?.switchboard?.rssPerConn?.median;
  const measured =
    `${n.toLocaleString('en-US')} connections, ${+(m.idleMs / 1000).toFixed(0)} s idle, ${timeouts ?? 'n/a'} timeouts, ` +
    `broadcast delivered to ${delivered.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}, ` +
    `${fmt((rss ?? Number.NaN) / 1024, 1)} KiB RSS / connection, ${fmt(bc.serverUsPerMsg?.median)} µs / delivery`;
  const ok = timeouts === 0 && delivered === n;
  const verdict = m.limited
    ? `${ok ? 'held at the size this machine allows; ' : ''}100,000 blocked here (${m.limited.blocker})`
    : ok && n >= 100000
      ? 'met'
      : 'missed';
  return `| 100,000 connections on one node | all handshakes, 5 min idle, no timeouts, one broadcast to all | ${measured} | ${verdict} |`;
}

/** The "Targets" section: one row per target of issue #8. */
export function targetsSection(result, vm = null) {
  const rows = [
    ratioRow(
      result,
      'Broadcast to 1,000, server CPU per delivery vs raw `ws`',
      'broadcast_1k',
      'switchboard',
      'ws',
      1.1,
    ),
    ratioRow(
      result,
      'Broadcast to 5,000, server CPU per delivery vs raw `ws`',
      'broadcast_5k',
      'switchboard',
      'ws',
      1.1,
    ),
    ratioRow(result, 'Echo, server CPU per round trip vs raw `ws` echo', 'echo', 'switchboard', 'ws', 1.3),
    rssRow(
      result,
      'RSS per idle WebSocket connection at 5,000, settled',
      'idle_rss_settled',
      'switchboard',
      10,
    ),
    rssRow(
      result,
      'RSS per idle WebSocket connection at 5,000, 1 s after connecting',
      'idle_rss',
      'switchboard',
      10,
    ),
    ratioRow(
      result,
      'Two nodes on Redis vs a raw `ws` pair on Redis',
      'cluster_5k',
      'switchboard-redis',
      'ws-redis',
      1.1,
    ),
    bigRow(result, vm),
  ];
  const pg = ratioOf(result, 'cluster_5k', 'switchboard-postgres', 'switchboard-redis');
  const pgLine = pg
    ? `\nTwo nodes on PostgreSQL, against our own Redis figure: ${fmt(pg.a)} vs ${fmt(pg.b)} µs server CPU per delivery (${fmt(pg.median)}×).\n`
    : '';
  return `## Targets of issue #8

Ratios of medians of server CPU per message in this run (Switchboard over the baseline), with the
range of the per-repetition ratios.

| Target | Limit | Measured | |
|---|---|---|---|
${rows.join('\n')}
${pgLine}`;
}
