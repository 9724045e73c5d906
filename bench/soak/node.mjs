// One node of the soak's cluster: the conformance server (built dist) on a Redis backplane, with
// stateful reconnects on. It reports its memory and open file descriptors to the parent over IPC
// whenever asked, after a full garbage collection (run with --expose-gc), so that the heap figure
// is the live heap, not a point on the collector's sawtooth.
//
//   node --expose-gc bench/soak/node.mjs   (spawned by bench/soak/run.mjs; settings from env)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { startConformanceServer } from '@switchboard/conformance';

const server = await startConformanceServer({
  port: 0,
  redis: process.env.SOAK_REDIS_URL,
  prefix: process.env.SOAK_PREFIX,
  nodeId: process.env.SOAK_NODE_ID,
  jwtSecret: process.env.SOAK_JWT_SECRET,
  statefulReconnect: true,
  presenceGraceMs: 1000,
  drainTimeoutMs: 2000,
});

// With SOAK_HEAP_DIR set, SIGUSR2 writes a heap snapshot there (after a full collection), to find
// what grows: `kill -USR2 <pid>` twice some minutes apart and compare the two.
if (process.env.SOAK_HEAP_DIR) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.();
    writeHeapSnapshot(
      join(process.env.SOAK_HEAP_DIR, `${process.env.SOAK_NODE_ID}-${Date.now()}.heapsnapshot`),
    );
  });
}

/** Open file descriptors of this process. */
function openFds() {
  return readdirSync('/proc/self/fd').length;
}

process.on('message', async (m) => {
  if (m?.cmd === 'stats') {
    globalThis.gc?.();
    const mem = process.memoryUsage();
    process.send({
      kind: 'stats',
      id: m.id,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      // Compiled code is part of heapUsed; reported apart so that growth of V8's code (optimised,
      // deoptimised, re-optimised functions) is told from growth of the server's own objects.
      codeSpace: getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? null,
      fds: openFds(),
      connections: server.hubs.connectionCount ?? null,
    });
  } else if (m?.cmd === 'exit') {
    await server.close();
    process.exit(0);
  }
});
process.send({ kind: 'ready', url: server.url, fds: openFds() });
