// Shared plumbing for the peer servers: listen on 127.0.0.1 (port from BENCH_PORT, 0 = any),
// report {evt:'ready', pid, port} over IPC, answer {cmd:'gc'} with memory figures after a full
// collection (servers run with --expose-gc), and exit when the orchestrator says so or goes away.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** @param {import('node:http').Server} http */
export function serve(http, name) {
  const port = Number(process.env.BENCH_PORT ?? 0);
  http.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
    process.send?.({ evt: 'ready', name, pid: process.pid, port: http.address().port });
  });
  process.on('message', (m) => {
    if (m?.cmd === 'gc') {
      globalThis.gc?.();
      globalThis.gc?.();
      const spaces = {};
      for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = s.space_size;
      const { total_heap_size: heapCommitted, malloced_memory: malloced } = getHeapStatistics();
      process.send({ evt: 'gc', mem: { ...process.memoryUsage(), heapCommitted, malloced, spaces } });
    } else if (m?.cmd === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}

/** Plain 404 for every HTTP request the peer does not handle itself. */
export function notFound(_req, res) {
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}

/**
 * The raw peers' HTTP server: the storm's first exchange, `POST /bench/negotiate`, answered with a
 * small JSON body holding a fresh id (`body(id)` gives it; default `{connectionId}`), as a negotiate
 * is; 404 for everything else.
 */
export function negotiateServer(body = (id) => ({ connectionId: id })) {
  return createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/bench/negotiate')) return notFound(req, res);
    req.resume();
    req.on('end', () => {
      const text = JSON.stringify(body(randomBytes(16).toString('base64url')));
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    });
  });
}
