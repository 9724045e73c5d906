// One load-generator process of the chat benchmark (bench/chat/run.mjs forks several). It holds
// the hub connections of its share of the users (the official @microsoft/signalr client with the
// MessagePack protocol, over WebSockets), sends messages at its share of the total rate, and
// checks every `messageReceived` its users get: latency (now − the send time written in the
// text, both from this machine's clock) and, per user and room, each seq exactly once.
//
// IPC commands (each answered by a message with the same `cmd` and `ok`):
//   setup {index, users: [{id, token, url, group, direct}], rateLimitRetry}
//   connect {concurrency}           → {connected, failed, firstError}
//   send {rate, directShare, measureFrom, measureTo, until}   (answers when sending stops)
//                                   → {sent, acked, failed, errors, acksPerRoom}
//   progress                        → {received}
//   check {lastSeq: {roomId: n}}    → {received, lost, dup, unexpected, histogram}
//   close
import { HttpTransportType, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';

/** Latency histogram resolution: 0.1 ms buckets up to 60 s (the last bucket holds the rest). */
const BUCKET_MS = 0.1;
const BUCKETS = 600_000;

/** The wall clock in ms with sub-ms precision, the same origin in every process of the machine. */
const now = () => performance.timeOrigin + performance.now();

const state = {
  index: 0,
  users: [],
  connections: [],
  /** Per local user: Map roomId → Uint8Array of receive counts by seq (grown on demand). */
  seen: [],
  histogram: new Uint32Array(BUCKETS),
  received: 0,
  /** Connections that closed after they started (by the server, or a failed transport). */
  closed: 0,
  closeReasons: {},
  measureFrom: Number.POSITIVE_INFINITY,
  measureTo: Number.NEGATIVE_INFINITY,
};

process.on('message', (m) => {
  handle(m).then(
    (r) => process.send({ cmd: m.cmd, ok: true, ...r }),
    (e) => process.send({ cmd: m.cmd, ok: false, error: String(e?.stack ?? e) }),
  );
});
process.on('disconnect', () => process.exit(0));

async function handle(m) {
  switch (m.cmd) {
    case 'setup':
      state.index = m.index;
      state.users = m.users;
      state.seen = m.users.map(() => new Map());
      return {};
    case 'connect':
      return connectAll(m.concurrency ?? 50);
    case 'send':
      return sendLoop(m);
    case 'progress':
      return { received: state.received };
    case 'check':
      return check(m.lastSeq);
    case 'close':
      await Promise.allSettled(state.connections.map((c) => c?.stop()));
      return {};
    default:
      throw new Error(`unknown command ${m.cmd}`);
  }
}

function onMessage(local, message) {
  const t = now();
  state.received++;
  const sent = Number(String(message.text).split(' ')[1]);
  if (sent >= state.measureFrom && sent < state.measureTo) {
    const b = Math.min(BUCKETS - 1, Math.max(0, Math.floor((t - sent) / BUCKET_MS)));
    state.histogram[b]++;
  }
  const rooms = state.seen[local];
  let counts = rooms.get(message.roomId);
  if (!counts || counts.length <= message.seq) {
    const grown = new Uint8Array(Math.max(64, (message.seq + 1) * 2));
    if (counts) grown.set(counts);
    counts = grown;
    rooms.set(message.roomId, counts);
  }
  if (counts[message.seq] < 255) counts[message.seq]++;
}

async function connectAll(concurrency) {
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError = null;
  state.connections = new Array(state.users.length);
  const worker = async () => {
    while (next < state.users.length) {
      const i = next++;
      const user = state.users[i];
      const hub = new HubConnectionBuilder()
        .withUrl(`${user.url}/hubs/chat`, {
          accessTokenFactory: () => user.token,
          transport: HttpTransportType.WebSockets,
        })
        .withHubProtocol(new MessagePackHubProtocol())
        .configureLogging(LogLevel.None)
        .build();
      // A loaded machine may hold pings back; a lost connection would show as lost messages.
      hub.serverTimeoutInMilliseconds = 300_000;
      hub.keepAliveIntervalInMilliseconds = 15_000;
      hub.on('messageReceived', (message) => onMessage(i, message));
      hub.onclose((e) => {
        state.closed++;
        const why = String(e?.message ?? 'no error').slice(0, 100);
        state.closeReasons[why] = (state.closeReasons[why] ?? 0) + 1;
      });
      for (let attempt = 0; ; attempt++) {
        try {
          await hub.start();
          state.connections[i] = hub;
          connected++;
          break;
        } catch (e) {
          if (attempt >= 4) {
            failed++;
            firstError ??= String(e?.message ?? e);
            break;
          }
          await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { connected, failed, firstError };
}

/**
 * Sends `rate` messages per second (open loop: sends are not held back by answers) until
 * `until` (epoch ms); each from a random local user, to its direct conversation with probability
 * `directShare`, else to its room of 50.
 */
async function sendLoop({ rate, directShare, measureFrom, measureTo, until }) {
  state.measureFrom = measureFrom;
  state.measureTo = measureTo;
  const stats = { sent: 0, acked: 0, windowAcked: 0, failed: 0, errors: {} };
  const acksPerRoom = {};
  const pending = new Set();
  const start = now();
  let n = 0;
  while (now() < until) {
    const due = Math.floor(((now() - start) / 1000) * rate);
    while (n < due) {
      n++;
      const local = Math.floor(Math.random() * state.users.length);
      const user = state.users[local];
      const hub = state.connections[local];
      if (!hub) continue;
      const roomId = Math.random() < directShare ? user.direct : user.group;
      const text = `b ${now().toFixed(3)} g${state.index}`;
      stats.sent++;
      const p = hub
        .invoke('sendMessage', { roomId, text, clientMessageId: `g${state.index}-${n}` })
        .then(
          (m) => {
            stats.acked++;
            const t = now();
            // Stored (answered) inside the measured window: the server's throughput there.
            if (t >= measureFrom && t < measureTo) stats.windowAcked++;
            acksPerRoom[m.roomId] = (acksPerRoom[m.roomId] ?? 0) + 1;
          },
          (e) => {
            stats.failed++;
            const code = /SB_[A-Z_]+/.exec(String(e?.message))?.[0] ?? String(e?.message).slice(0, 80);
            stats.errors[code] = (stats.errors[code] ?? 0) + 1;
          },
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  // Every send answered (or refused) before the counts go back; bounded by the client's timeout.
  await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, 60_000))]);
  return { ...stats, unanswered: pending.size, acksPerRoom };
}

/** Lost and twice-delivered messages against each room's final seq, and the latency buckets. */
function check(lastSeq) {
  let lost = 0;
  let dup = 0;
  let unexpected = 0;
  state.users.forEach((user, i) => {
    const rooms = state.seen[i];
    for (const roomId of [user.group, user.direct]) {
      const last = lastSeq[roomId] ?? 0;
      const counts = rooms.get(roomId) ?? new Uint8Array(0);
      for (let s = 1; s <= last; s++) {
        const c = counts[s] ?? 0;
        if (c === 0) lost++;
        else if (c > 1) dup += c - 1;
      }
      for (let s = last + 1; s < counts.length; s++) unexpected += counts[s];
    }
    for (const [roomId, counts] of rooms) {
      if (roomId === user.group || roomId === user.direct) continue;
      unexpected += counts.reduce((a, b) => a + b, 0);
    }
  });
  const histogram = [];
  state.histogram.forEach((c, b) => {
    if (c > 0) histogram.push([b, c]);
  });
  return {
    received: state.received,
    lost,
    dup,
    unexpected,
    closed: state.closed,
    closeReasons: state.closeReasons,
    histogram,
    bucketMs: BUCKET_MS,
  };
}
