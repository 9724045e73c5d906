// What runs. A session is one fresh server process per peer plus one fresh load generator; it
// opens `connections` clients and then runs its steps in order on the same connections.
// Repetitions interleave peers: rep 1 runs session S for A, B, C, then the next session…

export const PEERS = {
  ws: { label: 'ws (raw)', script: 'servers/ws.mjs', protocol: 'ws' },
  socketio: { label: 'Socket.IO 4', script: 'servers/socketio.mjs', protocol: 'socketio' },
  switchboard: { label: 'Switchboard', script: 'servers/switchboard.mjs', protocol: 'signalr-json' },
};

/** The 128-byte argument every message carries (ASCII, so 128 bytes in UTF-8 too). */
export const PAYLOAD = 'x'.repeat(128);

/** Per scenario: what one "message" is, for the tables. `main` names the headline metric. */
export const SCENARIOS = {
  echo: { title: 'Echo, 100 clients (closed loop)', unit: 'round trip', main: 'serverUsPerMsg' },
  broadcast_1k: { title: 'Broadcast to 1,000', unit: 'delivery', main: 'serverUsPerMsg' },
  broadcast_5k: { title: 'Broadcast to 5,000', unit: 'delivery', main: 'serverUsPerMsg' },
  broadcast_20k: { title: 'Broadcast to 20,000', unit: 'delivery', main: 'serverUsPerMsg' },
  groups: { title: 'Group fan-out, 500 groups of 10', unit: 'delivery', main: 'serverUsPerMsg' },
  idle_rss: { title: 'Idle connections (5,000)', unit: 'connection', main: 'rssPerConn' },
  idle_rss_1k: { title: 'Idle connections (1,000)', unit: 'connection', main: 'rssPerConn' },
  idle_rss_20k: { title: 'Idle connections (20,000)', unit: 'connection', main: 'rssPerConn' },
  storm: { title: 'Connection storm', unit: 'connection', main: 'serverUsPerMsg' },
  // Hooks, not implemented yet: two nodes over Redis / PostgreSQL, SSE and long-polling fan-out,
  // MessagePack. Each needs a session kind here and a protocol adapter in lib/protocols.mjs.
};

/** Deliveries in flight per fan-out (≈10k messages queued between server and generator). */
const windowFor = (perMsg) => Math.max(2, Math.ceil(10000 / perMsg));

function fanout(scenario, receivers, deliveries, extra = {}) {
  const perMsg = extra.groupSize ?? receivers;
  return {
    scenario,
    type: 'fanout',
    kind: 'all',
    count: Math.ceil(deliveries / perMsg),
    warmup: Math.ceil(deliveries / perMsg / 5),
    windowMsgs: windowFor(perMsg),
    timeoutMs: 120000,
    ...extra,
  };
}

/** SCENARIOS with the largest fan-out's title naming its real receiver count. */
export function scenarioTitles(maxConns) {
  const t = { ...SCENARIOS };
  if (maxConns < 20000) {
    const n = maxConns.toLocaleString('en-US');
    t.broadcast_20k = { ...t.broadcast_20k, title: `Broadcast to ${n} (fd limit)` };
    t.idle_rss_20k = { ...t.idle_rss_20k, title: `Idle connections (${n})` };
  }
  return t;
}

/**
 * @param {'quick'|'full'} mode
 * @param {{maxConns: number}} limits the "20k" session shrinks to what the fd limit allows
 */
export function sessions(mode, { maxConns = 20000 } = {}) {
  const q = mode === 'quick';
  const list = [
    {
      name: '1k',
      connections: 1000,
      steps: [
        { scenario: 'idle_rss_1k', type: 'rss' },
        {
          scenario: 'echo',
          type: 'echo',
          clients: 100,
          warmupMs: q ? 500 : 1000,
          durationMs: q ? 1500 : 4000,
          maxCount: 2_000_000,
        },
        fanout('broadcast_1k', 1000, q ? 60_000 : 300_000),
      ],
    },
    {
      name: '5k',
      connections: 5000,
      steps: [{ scenario: 'idle_rss', type: 'rss' }, fanout('broadcast_5k', 5000, q ? 100_000 : 300_000)],
    },
  ];
  if (q) return list;
  list.push(
    {
      name: '20k',
      connections: maxConns,
      steps: [{ scenario: 'idle_rss_20k', type: 'rss' }, fanout('broadcast_20k', maxConns, 300_000)],
    },
    {
      name: 'groups',
      connections: 5000,
      steps: [fanout('groups', 5000, 200_000, { kind: 'group', groupSize: 10, windowMsgs: 1000 })],
    },
    {
      name: 'storm',
      connections: 0,
      steps: [{ scenario: 'storm', type: 'storm', count: 5000, concurrency: 64, durationMs: 15000 }],
    },
  );
  return list;
}
