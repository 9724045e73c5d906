// Socket.IO 4 peer, default namespace.
//
//   --transports polling   the long-polling transport only (default: websocket only)
//   --redis URL --prefix P one node of a cluster on @socket.io/redis-adapter (key prefix P)
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { serve } from './common.mjs';

const { values: opt } = parseArgs({
  options: {
    transports: { type: 'string', default: 'websocket' },
    redis: { type: 'string' },
    prefix: { type: 'string', default: 'bench:' },
  },
});
const http = createServer();
const io = new Server(http, {
  transports: opt.transports.split(','),
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
});
if (opt.redis) {
  // Loaded only for a cluster node: a single node's memory baseline carries no unused modules.
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { createClient } = await import('redis');
  const pub = createClient({ url: opt.redis });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (e) => console.error(`socket.io node: redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: `${opt.prefix}socket.io` }));
}

io.on('connection', (socket) => {
  socket.on('echo', (x, ack) => ack(x));
  socket.on('broadcast', (x) => io.emit('broadcast', x));
  socket.on('join', (g, ack) => {
    socket.join(g);
    ack();
  });
  socket.on('group', (g, x) => io.to(g).emit('broadcast', x));
});

serve(http, opt.redis ? 'socketio-redis' : 'socketio');
