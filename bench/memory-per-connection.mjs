// Heap and RSS per idle SignalR WebSocket connection, measured inside the server process (issue #8).
//
//   npm run build && node --expose-gc bench/memory-per-connection.mjs [N=2000]
//
// With HEAP_SNAPSHOTS=DIR it also writes DIR/before.heapsnapshot and DIR/after.heapsnapshot (the
// readings' moments), for comparing what a connection keeps by constructor.
//
// The server (a HubServer from packages/server/dist, the bench hub path) runs here; the clients
// (negotiate v1, WebSocket, JSON handshake) run in a forked child, so that only the server's memory
// is counted. Loopback only; every wait is bounded.
import { fork } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';

const N = Number(process.argv[2] ?? 2000);
const DEADLINE_MS = 120_000;

if (process.argv[3] === 'client') {
  await client(Number(process.argv[4]));
} else {
  await server();
}

async function server() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const { HubServer, Hub } = await import(pathToFileURL(`${here}../packages/server/dist/index.js`).href);
  class BenchHub extends Hub {
    echo(x) {
      return x;
    }
  }
  const hubs = new HubServer();
  hubs.mapHub('/bench', BenchHub);
  const http = createServer();
  hubs.attach(http);
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = http.address().port;

  const child = fork(fileURLToPath(import.meta.url), [String(N), 'client', String(port)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages = [];
  let wake;
  child.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  const next = async (type) => {
    const end = Date.now() + DEADLINE_MS;
    while (Date.now() < end) {
      const i = messages.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const [m] = messages.splice(i, 1);
        if (m.type === 'error') throw new Error(`client: ${m.message}`);
        return m;
      }
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
    throw new Error(`timed out waiting for ${type}`);
  };

  // Warm up: a few connections open and close, so code and shared caches are in place.
  child.send({ type: 'open', count: 20 });
  await next('opened');
  child.send({ type: 'close' });
  await next('closed');
  await settle();
  const before = measure();
  snapshot('before');

  child.send({ type: 'open', count: N });
  const opened = await next('opened');
  await settle();
  const after = measure();
  snapshot('after');
  const live = hubs.connectionCount ?? undefined;

  child.send({ type: 'close' });
  await next('closed');
  child.disconnect();
  await hubs.close?.();
  http.close();

  const per = (k) => (after[k] - before[k]) / opened.count;
  const kib = (b) => `${(b / 1024).toFixed(2)} KiB`;
  console.log(
    JSON.stringify({
      connections: opened.count,
      live,
      heapUsedPerConn: Math.round(per('heapUsed')),
      externalPerConn: Math.round(per('external')),
      rssPerConn: Math.round(per('rss')),
    }),
  );
  console.log(
    `${opened.count} idle connections: heapUsed ${kib(per('heapUsed'))}/conn, external ${kib(per('external'))}/conn, RSS ${kib(per('rss'))}/conn`,
  );
  process.exit(0);
}

async function settle() {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (let i = 0; i < 6; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function snapshot(name) {
  const dir = process.env.HEAP_SNAPSHOTS;
  if (dir) writeHeapSnapshot(`${dir}/${name}.heapsnapshot`);
}

function measure() {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
}

async function client(port) {
  const { WebSocket } = await import('ws');
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let sockets = [];
  const negotiate = () =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/bench/negotiate?negotiateVersion=1', method: 'POST', agent },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(body))));
        },
      );
      req.setTimeout(15_000, () => req.destroy(new Error('negotiate timeout')));
      req.on('error', reject);
      req.end();
    });
  const open = async () => {
    const { connectionToken } = await negotiate();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/bench?id=${connectionToken}`, {
      perMessageDeflate: false,
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('handshake timeout')), 15_000);
      ws.once('open', () => ws.send('{"protocol":"json","version":1}\x1e'));
      ws.once('message', (data) => {
        clearTimeout(timer);
        String(data).startsWith('{}\x1e') ? resolve() : reject(new Error(`handshake: ${data}`));
      });
      ws.once('error', reject);
    });
    // Idle: answer nothing but keep the client timeout quiet with a ping now and then.
    ws.on('message', () => {});
    return ws;
  };
  const pinger = setInterval(() => {
    for (const ws of sockets) if (ws.readyState === 1) ws.send('{"type":6}\x1e');
  }, 10_000);
  process.on('message', async (m) => {
    try {
      if (m.type === 'open') {
        const batch = 100;
        for (let i = 0; i < m.count; i += batch) {
          const n = Math.min(batch, m.count - i);
          sockets.push(...(await Promise.all(Array.from({ length: n }, open))));
        }
        process.send({ type: 'opened', count: m.count });
      } else if (m.type === 'close') {
        await Promise.all(
          sockets.map(
            (ws) =>
              new Promise((resolve) => {
                ws.once('close', resolve);
                ws.close();
                setTimeout(resolve, 5000);
              }),
          ),
        );
        sockets = [];
        process.send({ type: 'closed' });
      }
    } catch (error) {
      process.send({ type: 'error', message: String(error?.message ?? error) });
    }
  });
  process.on('disconnect', () => {
    clearInterval(pinger);
    process.exit(0);
  });
}
