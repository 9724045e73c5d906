// The raw control of bench/workers-cost.mjs: a `ws` server as 1 process or as N node:cluster
// workers, speaking just enough of what the bench's clients send (no SignalR, no hub).
//
//   node bench/servers/ws-cluster.mjs N    (N = 0: one plain process)
//
// Forked with an IPC channel: it sends `{ port, pids, primary }` once listening and exits on
// `{ cmd: 'exit' }`.

const RS = '\x1e';

/**
 * The raw control: a `ws` server as 1 process (`workers` 0) or `workers` node:cluster workers.
 * It answers the handshake with `{}`, sends every other message back as its reply, and for a
 * `broadcast` invocation first writes `m` to every socket of every worker (the others through
 * the primary).
 */
async function serveRaw(workers) {
  const cluster = (await import('node:cluster')).default;
  const { createServer } = await import('node:http');
  const { WebSocketServer } = await import('ws');
  if (workers > 0 && cluster.isPrimary) {
    cluster.setupPrimary({ serialization: 'advanced' });
    const forked = Array.from({ length: workers }, () => cluster.fork());
    // A worker's broadcast frame, to every other worker.
    for (const w of forked)
      w.on('message', (frame) => {
        for (const o of forked) if (o !== w) o.send(frame);
      });
    const [{ port }] = await Promise.all(
      forked.map((w) => new Promise((resolve) => w.once('listening', resolve))),
    );
    process.send({ port, pids: [process.pid, ...forked.map((w) => w.process.pid)], primary: process.pid });
    process.on('message', (m) => {
      if (m?.cmd === 'exit') {
        for (const w of forked) w.process.kill('SIGKILL');
        process.exit(0);
      }
    });
    return;
  }
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const sockets = new Set();
  const fanOut = (frame) => {
    for (const ws of sockets) ws.send(frame);
  };
  wss.on('connection', (ws) => {
    let handshaken = false;
    ws.on('message', (data) => {
      if (!handshaken) {
        handshaken = true;
        sockets.add(ws);
        ws.send(`{}${RS}`);
        return;
      }
      const text = String(data);
      if (text.includes('"target":"workerIndex"')) {
        const id = /"invocationId":"(\d+)"/.exec(text)?.[1];
        const index = cluster.isWorker ? cluster.worker.id - 1 : 0;
        ws.send(`{"type":3,"invocationId":"${id}","result":${index}}${RS}`);
        return;
      }
      if (text.includes('"target":"broadcast"')) {
        const arg = /"arguments":\[([^\]]*)\]/.exec(text)?.[1] ?? '';
        const frame = Buffer.from(`{"type":1,"target":"m","arguments":[${arg}]}${RS}`);
        fanOut(frame);
        if (workers > 0) process.send(frame);
      }
      ws.send(data);
    });
    ws.on('close', () => sockets.delete(ws));
  });
  if (workers > 0) process.on('message', (frame) => fanOut(Buffer.from(frame)));
  // node:cluster workers share the primary's port 0 binding: they listen on the same one.
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  if (workers === 0) {
    process.send({ port: http.address().port, pids: [process.pid], primary: process.pid });
    process.on('message', (m) => m?.cmd === 'exit' && process.exit(0));
  }
}

await serveRaw(Number(process.argv[2] ?? 0));
