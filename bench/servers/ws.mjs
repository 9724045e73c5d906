// Baseline peer: the `ws` library and nothing else. One-letter commands, no JSON but the storm's
// POST /bench/negotiate answer (a fresh id):
//   e<payload>        echo: the frame goes back to the sender as is
//   b<payload>        broadcast: the received Buffer goes to every client (encoded once)
//   j<group>          join a group; answers "j"
//   g<group>|<payload> the frame goes to every member of the group
//
// With `--redis URL --prefix P` it is one node of a raw pair on Redis: a broadcast frame is
// published to the channel `<P>broadcast` and every node (the sender's too) writes what it
// receives on that channel to its own clients. Echo and groups stay local. With `--nats URL` the
// same on NATS: a core-NATS publish to the subject `<P>broadcast` (prefix made a subject token).
// With `--postgres URL` the same on PostgreSQL: `pg_notify` on a channel named after the prefix,
// one LISTEN connection per node (`--node-id N` names both connections `switchboard:N`, as the
// Switchboard nodes name theirs, so that the harness counts their backends' CPU).
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { negotiateServer, serve } from './common.mjs';

const { values: opt } = parseArgs({
  options: {
    redis: { type: 'string' },
    nats: { type: 'string' },
    postgres: { type: 'string' },
    'node-id': { type: 'string', default: 'ws' },
    prefix: { type: 'string', default: 'bench:' },
  },
});

// The storm's first exchange: a small POST answered with a small JSON body holding a fresh id, as
// a negotiate is (the raw peer does the same two exchanges as a SignalR client: POST, then upgrade).
const http = negotiateServer();
const wss = new WebSocketServer({ server: http, path: '/bench', perMessageDeflate: false });
const groups = new Map();
const memberOf = new WeakMap();
const TEXT = { binary: false };
const channel = `${opt.prefix}broadcast`;
let pub = null;
if (opt.redis) {
  // Loaded only for a cluster node: a single node's memory baseline carries no unused modules.
  const { createClient } = await import('redis');
  pub = createClient({ url: opt.redis });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (e) => console.error(`ws node: redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  // Buffers in, buffers out: the frame is written to each local client unchanged.
  await sub.subscribe(
    channel,
    (data) => {
      for (const c of wss.clients) c.send(data, TEXT);
    },
    true,
  );
}

if (opt.nats) {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: opt.nats, maxReconnectAttempts: -1 });
  const subject = `${opt.prefix.replace(/[^A-Za-z0-9_-]/g, '_')}.broadcast`;
  nc.subscribe(subject, {
    callback: (_e, msg) => {
      const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
      for (const c of wss.clients) c.send(data, TEXT);
    },
  });
  await nc.flush();
  pub = { publish: (_channel, data) => Promise.resolve(nc.publish(subject, data)) };
}

if (opt.postgres) {
  const { default: pg } = await import('pg');
  const config = { connectionString: opt.postgres, application_name: `switchboard:${opt['node-id']}` };
  const [writer, listener] = [new pg.Client(config), new pg.Client(config)];
  for (const c of [writer, listener]) c.on('error', (e) => console.error(`ws node: postgres: ${e.message}`));
  await Promise.all([writer.connect(), listener.connect()]);
  const name = `ws_${createHash('sha1').update(channel).digest('hex').slice(0, 20)}`;
  listener.on('notification', (msg) => {
    const data = Buffer.from(msg.payload ?? '');
    for (const c of wss.clients) c.send(data, TEXT);
  });
  await listener.query(`LISTEN ${name}`);
  // One connection writes, one query after the other: its notifications go out in the order sent.
  let last = Promise.resolve();
  const notify = (text) => writer.query('SELECT pg_notify($1, $2)', [name, text]);
  pub = { publish: (_channel, data) => (last = last.then(() => notify(data.toString()))) };
}

wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    switch (data[0]) {
      case 0x65: // e
        ws.send(data, TEXT);
        break;
      case 0x62: // b
        if (pub) pub.publish(channel, data).catch(() => {});
        else for (const c of wss.clients) c.send(data, TEXT);
        break;
      case 0x6a: {
        // j
        const g = data.toString('utf8', 1);
        if (!groups.has(g)) groups.set(g, new Set());
        groups.get(g).add(ws);
        if (!memberOf.has(ws)) memberOf.set(ws, new Set());
        memberOf.get(ws).add(g);
        ws.send('j');
        break;
      }
      case 0x67: {
        // g
        const bar = data.indexOf(0x7c);
        const set = groups.get(data.toString('utf8', 1, bar));
        if (set) for (const c of set) c.send(data, TEXT);
        break;
      }
    }
  });
  ws.on('close', () => {
    for (const g of memberOf.get(ws) ?? []) groups.get(g)?.delete(ws);
  });
});

serve(http, 'ws');
