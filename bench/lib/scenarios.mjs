// What runs. A session is one fresh server process per peer plus one fresh load generator; it
// opens `connections` clients and then runs its steps in order on the same connections.
// Repetitions interleave peers: rep 1 runs session S for A, B, C, then the next session…

//
// A peer is a server script plus the client protocol the generator speaks to it. `extra` peers
// run only in the sessions that name them (`session.peers`); sessions without a list run every
// peer that is not extra (the three WebSocket peers and compare.mjs's variants), and the `control`
// peers that --peers names. `nodes: 2` with a `backplane` starts two server processes joined by
// it; clients alternate between them.
const SB = 'servers/switchboard.mjs';
export const PEERS = {
  ws: { label: 'ws (raw)', script: 'servers/ws.mjs', protocol: 'ws' },
  // Echo and broadcast only, with no `ws` library (servers/ws-framing.mjs): run it by naming it,
  // in sessions of those scenarios (1k, 5k).
  'ws-framing': {
    label: 'raw, own framing',
    script: 'servers/ws-framing.mjs',
    protocol: 'ws',
    extra: true,
    control: true,
  },
  // The SignalR JSON work alone over `ws` (servers/ws-signalr.mjs), likewise.
  'ws-signalr': {
    label: 'ws + SignalR JSON, no hub layer',
    script: 'servers/ws-signalr.mjs',
    protocol: 'signalr-json',
    extra: true,
    control: true,
  },
  socketio: { label: 'Socket.IO 4', script: 'servers/socketio.mjs', protocol: 'socketio' },
  switchboard: { label: 'Switchboard', script: SB, protocol: 'signalr-json' },
  'switchboard-msgpack': {
    label: 'Switchboard MessagePack',
    script: SB,
    protocol: 'signalr-msgpack',
    extra: true,
    // Also in the 1k and 5k sessions (echo) where --peers names it.
    control: true,
  },
  'switchboard-sse': { label: 'Switchboard SSE', script: SB, protocol: 'signalr-sse', extra: true },
  'switchboard-lp': { label: 'Switchboard long polling', script: SB, protocol: 'signalr-lp', extra: true },
  'socketio-lp': {
    label: 'Socket.IO 4 long polling',
    script: 'servers/socketio.mjs',
    args: ['--transports', 'polling'],
    protocol: 'socketio-lp',
    extra: true,
  },
  'ws-redis': {
    label: 'ws pair on Redis',
    script: 'servers/ws.mjs',
    protocol: 'ws',
    nodes: 2,
    backplane: 'redis',
    extra: true,
  },
  'socketio-redis': {
    label: 'Socket.IO 4 × 2, redis-adapter',
    script: 'servers/socketio.mjs',
    protocol: 'socketio',
    nodes: 2,
    backplane: 'redis',
    extra: true,
  },
  'switchboard-redis': {
    label: 'Switchboard × 2, Redis',
    script: SB,
    protocol: 'signalr-json',
    nodes: 2,
    backplane: 'redis',
    extra: true,
  },
  'switchboard-postgres': {
    label: 'Switchboard × 2, PostgreSQL',
    script: SB,
    protocol: 'signalr-json',
    nodes: 2,
    backplane: 'postgres',
    extra: true,
  },
  'ws-postgres': {
    label: 'ws pair on PostgreSQL',
    script: 'servers/ws.mjs',
    protocol: 'ws',
    nodes: 2,
    backplane: 'postgres',
    extra: true,
  },
  'ws-nats': {
    label: 'ws pair on NATS',
    script: 'servers/ws.mjs',
    protocol: 'ws',
    nodes: 2,
    backplane: 'nats',
    extra: true,
  },
  'switchboard-nats': {
    label: 'Switchboard × 2, NATS JetStream',
    script: SB,
    protocol: 'signalr-json',
    nodes: 2,
    backplane: 'nats',
    extra: true,
  },
};

const MSGPACK_PEERS = ['ws', 'switchboard', 'switchboard-msgpack'];
const HTTP_PEERS = ['ws', 'switchboard-sse', 'switchboard-lp', 'socketio-lp'];
const CLUSTER_PEERS = [
  'ws-redis',
  'socketio-redis',
  'switchboard-redis',
  'ws-postgres',
  'switchboard-postgres',
  'ws-nats',
  'switchboard-nats',
];
const IDLE_PEERS = ['ws', 'socketio', 'switchboard'];

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
  idle_rss_settled: {
    title: 'Idle connections (5,000), settled',
    unit: 'connection',
    main: 'rssPerConn',
  },
  idle_rss_1k: { title: 'Idle connections (1,000)', unit: 'connection', main: 'rssPerConn' },
  idle_rss_20k: { title: 'Idle connections (20,000)', unit: 'connection', main: 'rssPerConn' },
  storm: { title: 'Connection storm', unit: 'connection', main: 'serverUsPerMsg' },
  msgpack_1k: { title: 'Broadcast to 1,000, MessagePack vs JSON', unit: 'delivery', main: 'serverUsPerMsg' },
  msgpack_5k: { title: 'Broadcast to 5,000, MessagePack vs JSON', unit: 'delivery', main: 'serverUsPerMsg' },
  http_1k: {
    title: 'Broadcast to 1,000 over SSE / long polling (HTTP transports: 1,000 receivers, not 5,000)',
    unit: 'delivery',
    main: 'serverUsPerMsg',
  },
  cluster_5k: {
    title: 'Broadcast to 5,000 across two nodes (2,500 each)',
    unit: 'delivery',
    main: 'serverUsPerMsg',
  },
  idle_rss_max: { title: 'Idle connections (100,000)', unit: 'connection', main: 'rssPerConn' },
  idle_max: {
    title: '100,000 connections idle 5 min, keep-alive running',
    unit: 'connection over the idle period',
    main: 'serverUsPerMsg',
  },
  broadcast_max: { title: 'One broadcast to 100,000', unit: 'delivery', main: 'serverUsPerMsg' },
};

/** The connection count of the 100k session: 100,000 where the fd limit allows. */
export const BIG = 100_000;

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

/**
 * SCENARIOS with titles naming real counts: the largest fan-out's receivers, the 100k session's
 * connections (`limited`: fewer than 100,000 because of the fd limit) and idle period, and the
 * quick run's smaller HTTP and two-node sessions.
 */
export function scenarioTitles(
  maxConns,
  { bigConns = BIG, limited = false, idleMs = 300_000, quick = false, clusterN } = {},
) {
  const t = { ...SCENARIOS };
  const big = bigConns.toLocaleString('en-US');
  const why = limited ? ' (fd limit)' : '';
  const idle = idleMs >= 60000 ? `${+(idleMs / 60000).toFixed(1)} min` : `${+(idleMs / 1000).toFixed(1)} s`;
  t.idle_rss_max = { ...t.idle_rss_max, title: `Idle connections (${big}${limited ? ', fd limit' : ''})` };
  t.idle_max = { ...t.idle_max, title: `${big} connections${why} idle ${idle}, keep-alive running` };
  t.broadcast_max = { ...t.broadcast_max, title: `One broadcast to ${big}${why}` };
  if (quick) {
    t.http_1k = { ...t.http_1k, title: 'Broadcast to 200 over SSE / long polling (HTTP transports)' };
    t.cluster_5k = { ...t.cluster_5k, title: 'Broadcast to 400 across two nodes (200 each)' };
  }
  if (clusterN) {
    const [all, half] = [clusterN, clusterN / 2].map((x) => x.toLocaleString('en-US'));
    t.cluster_5k = { ...t.cluster_5k, title: `Broadcast to ${all} across two nodes (${half} each)` };
  }
  if (maxConns < 20000) {
    const n = maxConns.toLocaleString('en-US');
    t.broadcast_20k = { ...t.broadcast_20k, title: `Broadcast to ${n} (fd limit)` };
    t.idle_rss_20k = { ...t.idle_rss_20k, title: `Idle connections (${n})` };
  }
  return t;
}

/**
 * The sessions of a run, in order. Quick mode keeps every kind at small sizes.
 * @param {'quick'|'full'} mode
 * @param {{maxConns?: number, bigConns?: number, idleMs?: number, clusterN?: number}} limits the
 *   "20k" session shrinks to what the fd limit allows, the 100k session to `bigConns`; `idleMs` is
 *   its idle period; `clusterN` the receivers of the two-node session (default 5,000; quick 400)
 */
export function sessions(mode, { maxConns = 20000, bigConns = BIG, idleMs, clusterN: clusterSize } = {}) {
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
      // Full runs also measure the settled figure: a warm-up of 200 connections opened and closed
      // first, both readings taken once V8's memory reducer has run (session.mjs settledRss).
      warmup: q ? 0 : 200,
      steps: [
        { scenario: 'idle_rss', type: 'rss' },
        ...(q ? [] : [{ scenario: 'idle_rss_settled', type: 'rss', settle: true }]),
        fanout('broadcast_5k', 5000, q ? 50_000 : 300_000),
      ],
    },
  ];
  if (!q)
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
      {
        name: 'msgpack-5k',
        connections: 5000,
        peers: MSGPACK_PEERS,
        steps: [fanout('msgpack_5k', 5000, 300_000)],
      },
    );
  const httpN = q ? 200 : 1000;
  const clusterN = clusterSize ?? (q ? 400 : 5000);
  list.push(
    {
      name: 'msgpack-1k',
      connections: 1000,
      peers: MSGPACK_PEERS,
      steps: [fanout('msgpack_1k', 1000, q ? 20_000 : 300_000)],
    },
    {
      name: 'http',
      connections: httpN,
      peers: HTTP_PEERS,
      steps: [fanout('http_1k', httpN, q ? 10_000 : 100_000)],
    },
    {
      name: 'cluster',
      connections: clusterN,
      peers: CLUSTER_PEERS,
      steps: [fanout('cluster_5k', clusterN, q ? 10_000 : 300_000)],
    },
    {
      // All handshakes, then idle with keep-alive, then exactly one broadcast to everyone. Full
      // runs do this session in the first repetition only (5 min idle per peer).
      name: '100k',
      connections: q ? 500 : bigConns,
      peers: IDLE_PEERS,
      maxReps: q ? undefined : 1,
      connectTimeoutMs: 900_000,
      steps: [
        { scenario: 'idle_rss_max', type: 'rss' },
        {
          scenario: 'idle_max',
          type: 'idle',
          durationMs: idleMs ?? (q ? 3000 : 300_000),
          pingEveryMs: q ? 1000 : 15_000,
        },
        {
          scenario: 'broadcast_max',
          type: 'fanout',
          kind: 'all',
          count: 1,
          warmup: 0,
          windowMsgs: 1,
          timeoutMs: 120_000,
        },
      ],
    },
  );
  return list;
}
