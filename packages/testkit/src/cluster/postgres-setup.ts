/**
 * The PostgreSQL backplane for the cluster suites: the machine's PostgreSQL (env `DATABASE_URL`,
 * default `postgres://postgres@127.0.0.1:5432/test`), the clean-up of a test cluster's schema, and
 * a fault that terminates one node's backends (`pg_terminate_backend`).
 * @module
 */
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { requireService } from '../services.js';
import type { BackplaneFault } from './faults.js';
import type { ClusterBackplaneSetup } from './lb-suite.js';
import { findBinary } from './processes.js';

/** The PostgreSQL the cluster suites use. */
export const CLUSTER_POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Path of psql (env `PSQL`, else Debian's `/usr/bin/psql`). */
export const PSQL_PATH = findBinary('PSQL', ['/usr/bin/psql', '/usr/local/bin/psql']);

/** Runs one SQL text with psql (`ON_ERROR_STOP`) and resolves with its unaligned output. */
export function psql(url: string, sql: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PSQL_PATH, ['-d', url, '-v', 'ON_ERROR_STOP=1', '-tAc', sql], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`psql: ${err.trim()}`)),
    );
  });
}

/**
 * The schema a cluster prefix maps to (the backplane's documented mapping, for the short prefixes
 * the cluster suites use: lowercase, runs of other characters than `a-z0-9_` become `_`, no `_`
 * at either end).
 */
export function clusterSchema(prefix: string): string {
  return prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** The machine's PostgreSQL as the cluster suites' backplane (skipped loudly when it is down). */
export const postgresClusterSetup: ClusterBackplaneSetup = {
  name: 'PostgreSQL',
  require(t: TestContext) {
    const { hostname, port } = new URL(CLUSTER_POSTGRES_URL);
    return requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: hostname, port: Number(port || 5432) });
  },
  spec: () => ({ kind: 'postgres', url: CLUSTER_POSTGRES_URL }),
  cleanup: async (prefix) => {
    await psql(CLUSTER_POSTGRES_URL, `DROP SCHEMA IF EXISTS "${clusterSchema(prefix)}" CASCADE`);
  },
};

/**
 * Terminates every PostgreSQL backend of node `index` (`pg_terminate_backend`, found by the
 * node id in `application_name`), again and again for as long as the fault lasts, so that the
 * node's reconnects fail too.
 */
export function pgTerminateFault(index = 0): BackplaneFault {
  let nodeId = '';
  let running: Promise<void> | undefined;
  let stop = false;
  const terminate = () =>
    psql(
      CLUSTER_POSTGRES_URL,
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE '%${nodeId.replace(/'/g, "''")}%' AND pid <> pg_backend_pid()`,
    );
  return {
    name: `node${index + 1}'s PostgreSQL backends terminated (pg_terminate_backend) while the others publish`,
    spec: () => ({ kind: 'postgres', url: CLUSTER_POSTGRES_URL }),
    bind(nodeIds) {
      nodeId = nodeIds[index] ?? '';
    },
    async begin() {
      if (!nodeId) throw new Error('no node id to terminate');
      const first = Number(await terminate());
      if (first === 0) throw new Error(`node ${nodeId} has no PostgreSQL backend to terminate`);
      stop = false;
      running = (async () => {
        while (!stop) {
          await terminate();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
    },
    async end() {
      stop = true;
      await running;
    },
    mayLoseInFlight: false,
    dispose: async () => {
      stop = true;
      await running;
    },
  };
}
