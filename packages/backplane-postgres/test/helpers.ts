// Test helpers: a PostgreSQL schema per test, dropped after; a pool on the local server.
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { requireService } from '../../testkit/src/services.ts';
import { quoteIdent, schemaFromPrefix } from '../src/migrations.ts';

export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Skips (or, under CI=true, fails) when PostgreSQL is not running. */
export function requirePostgres(t: TestContext): Promise<boolean> {
  const url = new URL(PG_URL);
  return requireService(t, {
    kind: 'tcp',
    name: 'PostgreSQL',
    host: url.hostname,
    port: Number(url.port || 5432),
  });
}

/** A prefix (and so a schema) no other test run uses. */
export function uniquePrefix(): string {
  return `sb-test-${randomUUID()}:`;
}

/** A pool for the test's own queries; `application_name` tells it apart from the nodes'. */
export function adminPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2, application_name: 'sb-test-admin' });
  pool.on('error', () => undefined);
  return pool;
}

/** Drops the schema of a prefix (and everything in it). */
export async function dropSchema(pool: pg.Pool, prefix: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schemaFromPrefix(prefix))} CASCADE`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
