// The chat benchmark's servers: seeding the storage (users, rooms of 50, direct conversations,
// tokens) before any server starts, starting the chat (`apps/chat-server/dist/main.js`) in one of
// the three configurations, and reading CPU time and RSS of every process that serves it.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { POSTGRES_URL, startRedis } from '../lib/backplanes.mjs';
import { procCpuUs, procRss } from '../lib/proc.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => join(root, 'apps/chat-server/dist', p);

/** Every server process started and not yet stopped, for {@link killLive}. */
const live = new Set();

/** Kills (SIGKILL) every server process still running: the harness was interrupted. */
export function killLive() {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

/** The configurations by name: what the servers are and how many. */
export const CONFIGS = {
  sqlite: { label: 'SQLite, one process', nodes: 1, workers: 1, postgres: false },
  'sqlite-workers': { label: 'SQLite, WORKERS=2', nodes: 1, workers: 2, postgres: false },
  'pg-redis-3': { label: 'PostgreSQL, 3 nodes on Redis', nodes: 3, workers: 1, postgres: true },
};

/**
 * The population: `users` users, rooms of `roomSize` (user i in room ⌊i / roomSize⌋) and one
 * direct conversation each (user i with user i + users/2), so every user is in exactly two rooms.
 */
export function population(users, roomSize) {
  const groups = Math.ceil(users / roomSize);
  const half = Math.floor(users / 2);
  return { users, roomSize, groups, directs: half };
}

/** Opens the storage of a run (SQLite in `dataDir`, or PostgreSQL in `schema`). */
async function openStorage(run) {
  if (run.postgres) {
    const { PostgresStorage } = await import(dist('index.js'));
    return new PostgresStorage({ connectionString: POSTGRES_URL, schema: run.schema });
  }
  const { SqliteStorage } = await import(dist('index.js'));
  return SqliteStorage.inDirectory(run.dataDir);
}

/**
 * Creates the users, rooms and direct conversations straight in the storage (before the servers
 * start) and a token for each user from the chat's own token service and secret.
 * Resolves to [{id, token, group, direct}] by user index.
 */
export async function seed(run, pop) {
  const { TokenService } = await import(dist('auth/tokens.js'));
  const storage = await openStorage(run);
  try {
    await storage.migrate();
    const tokens = new TokenService(run.jwtSecret, storage);
    const at = new Date().toISOString();
    const records = [];
    for (let i = 0; i < pop.users; i++) {
      records.push(
        storage.createUser({
          id: randomUUID(),
          username: `chbh${i}`,
          displayName: `Bench ${i}`,
          passwordHash: null,
          role: 'user',
          isGuest: false,
          createdAt: at,
        }),
      );
      if (records.length % 500 === 0) await Promise.all(records.slice(-500));
    }
    const users = await Promise.all(records);
    const out = users.map((u) => ({ id: u.id, token: tokens.issue(u).token, group: '', direct: '' }));
    for (let g = 0; g < pop.groups; g++) {
      const members = users.slice(g * pop.roomSize, (g + 1) * pop.roomSize);
      const room = await storage.createRoom(
        {
          id: randomUUID(),
          name: `bench room ${g}`,
          isPrivate: true,
          kind: 'room',
          ownerId: members[0].id,
          createdAt: at,
        },
        members.map((u) => u.id),
      );
      for (let k = 0; k < members.length; k++) out[g * pop.roomSize + k].group = room.id;
    }
    for (let i = 0; i < pop.directs; i++) {
      const a = users[i];
      const b = users[i + pop.directs];
      const ids = [a.id, b.id].sort();
      const room = await storage.createRoom(
        {
          id: randomUUID(),
          name: `${a.displayName}, ${b.displayName}`,
          isPrivate: true,
          kind: 'direct',
          ownerId: null,
          directKey: ids.join(','),
          createdAt: at,
        },
        ids,
      );
      out[i].direct = room.id;
      out[i + pop.directs].direct = room.id;
    }
    // An odd user out has no direct conversation: its "direct" messages go to its room.
    for (const u of out) u.direct ||= u.group;
    return out;
  } finally {
    await storage.close();
  }
}

/** Each room's newest seq as the storage holds it after the run: what was stored. */
export async function storedSeqs(run, roomIds) {
  const storage = await openStorage(run);
  try {
    const lastSeq = {};
    for (const id of roomIds) lastSeq[id] = (await storage.roomPosition(id))?.lastSeq ?? 0;
    return lastSeq;
  } finally {
    await storage.close();
  }
}

/** A fresh run's storage and secrets (a temp dir, or a `chbh_` schema) for a configuration. */
export function prepareRun(configName, tag) {
  const config = CONFIGS[configName];
  if (!config) throw new Error(`unknown configuration ${configName} (${Object.keys(CONFIGS).join(', ')})`);
  const dataDir = mkdtempSync(join(tmpdir(), 'chbh-'));
  return {
    config: configName,
    ...config,
    dataDir,
    schema: `chbh_${tag}`
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 60),
    prefix: `chbh_${tag}`,
    jwtSecret: randomBytes(24).toString('base64url'),
    redis: null,
  };
}

/** Starts the chat's node(s) of a run; resolves to {urls, pids, stop()} once every node listens. */
export async function startServers(run, extraEnv = {}) {
  if (run.postgres && run.nodes > 1) run.redis = await startRedis(null);
  const env = {
    ...process.env,
    LOG_LEVEL: 'error',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: run.dataDir,
    JWT_SECRET: run.jwtSecret,
    WORKERS: String(run.workers),
    // A benchmark's load comes from one address at rates no user reaches: the limits step aside.
    MESSAGE_RATE_LIMIT: '100000',
    INVOKE_RATE_LIMIT: '0',
    NEGOTIATE_RATE_LIMIT: '0',
    MAX_SOCKETS_PER_IP: '0',
    MAX_CONNECTIONS_PER_USER: '0',
    BACKPLANE_LAG_PROBE_MS: '0',
    ...(run.postgres ? { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: run.schema } : {}),
    ...(run.redis ? { BACKPLANE: 'redis', REDIS_URL: run.redis.url, BACKPLANE_PREFIX: run.prefix } : {}),
    ...extraEnv,
  };
  const children = [];
  const urls = [];
  for (let n = 0; n < run.nodes; n++) {
    const sh = 'ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
    const child = spawn('/bin/sh', ['-c', sh, 'sh', process.execPath, dist('main.js')], {
      cwd: root,
      env: { ...env, NODE_ID: `${run.prefix}-n${n}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    live.add(child);
    child.once('exit', () => live.delete(child));
    urls.push(
      await new Promise((resolve, reject) => {
        let text = '';
        const t = setTimeout(() => reject(new Error('the chat did not listen within 120 s')), 120_000);
        child.stdout.on('data', (d) => {
          text += d;
          const m = /listening on (http:\/\/\S+)/.exec(text);
          if (m) {
            clearTimeout(t);
            resolve(m[1].replace('localhost', '127.0.0.1'));
          }
        });
        child.once('exit', (code) => reject(new Error(`the chat exited (${code}) before listening`)));
      }),
    );
  }
  return {
    urls,
    pids: children.map((c) => c.pid),
    async stop() {
      await Promise.all(
        children.map(async (c) => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          const gone = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM');
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          await gone;
          clearTimeout(t);
        }),
      );
      await run.redis?.stop();
    },
  };
}

/** The pids of `pids` and all their descendants (the workers of a WORKERS=N server). */
export function processTree(pids) {
  const parent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const out = new Set(pids);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (out.has(ppid) && !out.has(pid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return [...out];
}

/** CPU µs and RSS bytes summed over processes (those that exited count as 0). */
export function usage(pids) {
  let cpuUs = 0;
  let rss = 0;
  for (const pid of pids) {
    try {
      cpuUs += procCpuUs(pid);
      rss += procRss(pid) ?? 0;
    } catch {}
  }
  return { cpuUs, rss };
}

/** Removes what a run left: the temp dir and the PostgreSQL schema. */
export async function cleanupRun(run) {
  rmSync(run.dataDir, { recursive: true, force: true });
  if (!run.postgres) return;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${run.schema}" CASCADE`);
  } catch {
  } finally {
    await client.end().catch(() => {});
  }
}
