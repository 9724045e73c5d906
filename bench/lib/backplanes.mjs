// The backplanes of the two-node sessions. Redis: the harness starts its own redis-server
// (no persistence, a free loopback port, pinned like the servers) so that Redis's CPU time is
// Redis's alone and nothing collides with other users of the machine's Redis; without the
// binary it falls back to 127.0.0.1:6379 and reports no Redis CPU. PostgreSQL: the machine's
// server (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_BIN = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
const NATS_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) =>
  existsSync(p),
);
export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when a TCP connect to the port succeeds (bounded), else rejects. */
async function waitPort(port, ms) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a private redis-server; resolves to {url, pid, stop(), own: true}, or to the shared
 * 127.0.0.1:6379 ({pid: null, own: false}) when redis-server is not installed.
 * @param {number|null} core pin Redis to this core (taskset), or null
 */
export async function startRedis(core) {
  if (!REDIS_BIN) return { url: 'redis://127.0.0.1:6379', pid: null, own: false, stop: async () => {} };
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const cmd = core === null ? [REDIS_BIN, ...args] : ['taskset', '-c', String(core), REDIS_BIN, ...args];
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitPort(port, 10000);
  return {
    url: `redis://127.0.0.1:${port}`,
    // taskset execs redis-server, so the child's pid is Redis's.
    pid: child.pid,
    own: true,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * Starts a private `nats-server -js` (a JetStream store under the temp folder, a free loopback
 * port, pinned like the servers); resolves to {url, pid, stop(), own: true}, or to the shared
 * 127.0.0.1:4222 ({pid: null, own: false}) when nats-server is not installed.
 * @param {number|null} core pin NATS to this core (taskset), or null
 */
export async function startNats(core) {
  if (!NATS_BIN) return { url: 'nats://127.0.0.1:4222', pid: null, own: false, stop: async () => {} };
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'sb-bench-nats-'));
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store];
  const cmd = core === null ? [NATS_BIN, ...args] : ['taskset', '-c', String(core), NATS_BIN, ...args];
  const child = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitPort(port, 10000);
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    own: true,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(store, { recursive: true, force: true });
    },
  };
}

/**
 * Drops the schema a PostgreSQL cluster session used (derived from its prefix exactly as the
 * backplane derives it). Errors are returned, not thrown: cleanup must not fail a run.
 */
export async function dropPostgresSchema(url, prefix) {
  try {
    const { schemaFromPrefix, quoteIdent } = await import('@switchboard/backplane-postgres');
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schemaFromPrefix(prefix))} CASCADE`);
    } finally {
      await client.end();
    }
    return null;
  } catch (e) {
    return String(e.message ?? e);
  }
}

/**
 * Pids of the PostgreSQL backends serving connections whose application_name starts with
 * `appPrefix` (the backplane names them `switchboard:<nodeId>`); [] when PostgreSQL cannot say.
 */
export async function postgresBackendPids(url, appPrefix) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, application_name: 'switchboard-bench' });
  try {
    await client.connect();
    const r = await client.query('SELECT pid FROM pg_stat_activity WHERE starts_with(application_name, $1)', [
      appPrefix,
    ]);
    return r.rows.map((x) => x.pid);
  } catch {
    return [];
  } finally {
    await client.end().catch(() => {});
  }
}
