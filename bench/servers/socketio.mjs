// Socket.IO 4 peer, websocket transport only, default namespace and in-memory adapter.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { serve } from './common.mjs';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });

io.on('connection', (socket) => {
  socket.on('echo', (x, ack) => ack(x));
  socket.on('broadcast', (x) => io.emit('broadcast', x));
  socket.on('join', (g, ack) => {
    socket.join(g);
    ack();
  });
  socket.on('group', (g, x) => io.to(g).emit('broadcast', x));
});

serve(http, 'socketio');
