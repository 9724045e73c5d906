// The soak's chart: RSS and live heap of every node over time, and the echo p99 per minute, as
// one plain SVG (no dependencies), written beside the result file.

const W = 760;
const PANEL = 220;
const PAD = { left: 60, right: 130, top: 30, bottom: 30 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** One panel of lines: `series` [{label, points: [{t, y}]}], times in ms, y in `unit`. */
function panel(title, series, unit, top, tMax, markers) {
  const yMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.y))) * 1.1;
  const x = (t) => PAD.left + ((W - PAD.left - PAD.right) * t) / Math.max(1, tMax);
  const y = (v) => top + PANEL - (PANEL * v) / yMax;
  const out = [`<text x="${PAD.left}" y="${top - 8}" font-weight="bold">${title}</text>`];
  out.push(
    `<rect x="${PAD.left}" y="${top}" width="${W - PAD.left - PAD.right}" height="${PANEL}" fill="none" stroke="#999"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`,
    );
  }
  out.push(
    `<text x="12" y="${top + PANEL / 2}" transform="rotate(-90 12 ${top + PANEL / 2})">${unit}</text>`,
  );
  for (const m of markers) {
    out.push(
      `<line x1="${x(m.t)}" x2="${x(m.t)}" y1="${top}" y2="${top + PANEL}" stroke="#bbb" stroke-dasharray="4 3"/>`,
    );
    out.push(`<text x="${x(m.t) + 3}" y="${top + 12}" fill="#777">${m.label}</text>`);
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points
      .map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`)
      .join(' ');
    const color = COLORS[i % COLORS.length];
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    out.push(`<text x="${W - PAD.right + 8}" y="${top + 16 + i * 16}" fill="${color}">${s.label}</text>`);
  });
  return out.join('\n');
}

/** The SVG text for a soak result (as written by bench/soak/run.mjs). */
export function soakChart(result) {
  const tMax = result.run.endMs;
  const minutes = (t) => `${Math.round(t / 60000)} min`;
  const markers = [
    { t: result.run.warmupEndMs, label: 'warm-up' },
    ...result.verdict.windows.slice(1).map(([a]) => ({ t: a, label: minutes(a) })),
  ];
  const nodes = [...new Set(result.run.samples.map((s) => s.node))].sort();
  const mb = (v) => v / (1024 * 1024);
  const memory = nodes.flatMap((node) => {
    const mine = result.run.samples.filter((s) => s.node === node);
    return [
      { label: `${node} RSS`, points: mine.map((s) => ({ t: s.t, y: mb(s.rss) })) },
      { label: `${node} heap`, points: mine.map((s) => ({ t: s.t, y: mb(s.heapUsed) })) },
    ];
  });
  const latency = [
    { label: 'echo p99', points: result.latencyPerMinute.map((m) => ({ t: m.t, y: m.p99 })) },
    { label: 'echo p50', points: result.latencyPerMinute.map((m) => ({ t: m.t, y: m.p50 })) },
  ];
  const height = PAD.top + 2 * (PANEL + 60) + PAD.bottom;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${panel('Memory per node (RSS, live heap after a full GC)', memory, 'MiB', PAD.top, tMax, markers)}
${panel('Echo round trip, per minute', latency, 'ms', PAD.top + PANEL + 60, tMax, markers)}
<text x="${PAD.left}" y="${height - 8}" fill="#555">time since start; ${result.verdict.pass ? 'PASS' : 'FAIL'}: ${Object.entries(
    result.verdict.checks,
  )
    .map(([k, v]) => `${k} ${v ? 'ok' : 'no'}`)
    .join(', ')}</text>
</svg>
`;
}
