/**
 * Schema migrations for the PostgreSQL backplane. Each component (bus, presence, user-groups) ships
 * numbered `.sql` files under `packages/backplane-postgres/sql/<component>/`; {@link migrate} applies the
 * ones a schema lacks, once, even when several nodes start at the same time.
 * @module
 */
import { backendError, loadMigrationFiles, type SqlFile } from '@switchboard/server/scaleout';
import type pg from 'pg';

export type { SqlFile };

/** What {@link migrate} applies, and where. */
export interface MigrateOptions {
  /** The schema (created when missing); see {@link schemaFromPrefix}. */
  readonly schema: string;
  /** Who owns the files (`bus`, `presence`): versions are counted per component. */
  readonly component: string;
  /** The migrations, from {@link loadSqlFiles}. */
  readonly files: readonly SqlFile[];
}

/**
 * The folder of a component's SQL files: `sql/<component>/` at the package root (this module sits
 * one level below it as `src/*.ts` and as `dist/*.js`, so no copy step is needed).
 */
export function sqlDir(component: string): URL {
  return new URL(`../sql/${component}/`, import.meta.url);
}

/**
 * Reads the `NNN_name.sql` files of a folder, in version order (the core's `loadMigrationFiles`).
 * Other files are ignored; a `.sql` file with another name, or two files with one version, are
 * refused (`SB_ERR_BACKPLANE_MIGRATION`).
 */
export function loadSqlFiles(dir: URL): Promise<SqlFile[]> {
  return loadMigrationFiles(dir, 'postgres');
}

/** Applies this package's files of each component (`sql/<component>/`) to a schema, in order. */
export async function migrateComponents(
  pool: pg.Pool,
  schema: string,
  ...components: string[]
): Promise<void> {
  for (const component of components)
    await migrate(pool, { schema, component, files: await loadSqlFiles(sqlDir(component)) });
}

/** Quotes an identifier for SQL (`"name"`, inner quotes doubled). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The schema name for a key prefix, so one prefix option keeps clusters apart on both backplanes.
 * The mapping: lowercase; every run of characters other than `a-z`, `0-9` and `_` becomes one `_`;
 * leading and trailing `_` are dropped; a name that is empty or starts with a digit gets `sb_` in
 * front; a name longer than 63 bytes (PostgreSQL's limit) is cut to 54 characters plus `_` and 8
 * hex digits of a hash of the whole prefix. So `switchboard:` is `switchboard`, and
 * `sb-test-<uuid>:` is `sb_test_<uuid with '_' for '-'>`. Prefixes that differ only in
 * punctuation or case (`a:b`, `A-b`) share a schema.
 */
export function schemaFromPrefix(prefix: string): string {
  let name = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (name === '' || /^[0-9]/.test(name)) name = `sb_${name}`.replace(/_+$/, '');
  if (name.length > 63) name = `${name.slice(0, 54)}_${fnv1a(prefix)}`;
  return name;
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * Applies the files of `component` that `schema` has not applied yet, in one transaction: it takes
 * a transaction-scoped advisory lock keyed by the schema (so nodes starting at once migrate one
 * after the other, and the later ones find nothing to do), creates the schema and
 * `<schema>.schema_migrations(component, version, name, applied_at)` when missing, runs each missing
 * file with `search_path` set to the schema (files use unqualified names), and records it. On any
 * error nothing is kept and the promise rejects with `SB_ERR_BACKPLANE_MIGRATION`.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions): Promise<void> {
  const { schema, component, files } = options;
  const q = quoteIdent(schema);
  const client = await pool.connect();
  let current = 'the migrations table';
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`switchboard.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (component text NOT NULL, version int NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`,
    );
    const applied = new Set(
      (
        await client.query<{ version: number }>(
          `SELECT version FROM ${q}.schema_migrations WHERE component = $1`,
          [component],
        )
      ).rows.map((r) => r.version),
    );
    const missing = [...files].sort((a, b) => a.version - b.version).filter((f) => !applied.has(f.version));
    if (missing.length > 0) await client.query(`SET LOCAL search_path TO ${q}`);
    for (const file of missing) {
      current = `${component} ${String(file.version).padStart(3, '0')}_${file.name}.sql`;
      await client.query(file.sql);
      await client.query(
        `INSERT INTO ${q}.schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, now())`,
        [component, file.version, file.name],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw backendError(
      'postgres',
      'SB_ERR_BACKPLANE_MIGRATION',
      `migrating schema '${schema}' failed at ${current}`,
      error,
    );
  } finally {
    client.release();
  }
}
