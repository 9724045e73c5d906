/**
 * {@link loadMigrationFiles}: the numbered migration files of a backend that keeps a schema (the
 * PostgreSQL backplane's `sql/<component>/`), read and checked once for every such backend. How
 * they are applied (a lock, a table of what was applied) is the backend's.
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import { backendError } from './adapter-kit.js';

/** One migration: `NNN_name.sql` read by {@link loadMigrationFiles}. */
export interface SqlFile {
  /** The number at the start of the file name; files apply in ascending order. */
  readonly version: number;
  /** The rest of the file name, without `.sql`. */
  readonly name: string;
  /** The file's text. */
  readonly sql: string;
}

const FILE_NAME = /^(\d{3,})_([a-z0-9_-]+)\.sql$/;

/**
 * Reads the `NNN_name.sql` files of a folder, in version order. Other files are ignored; a `.sql`
 * file with another name, or two files with one version, are refused (`SB_ERR_BACKPLANE_MIGRATION`,
 * the message naming `backend`).
 */
export async function loadMigrationFiles(dir: URL, backend: string): Promise<SqlFile[]> {
  const refuse = (what: string) => backendError(backend, 'SB_ERR_BACKPLANE_MIGRATION', what);
  const files: SqlFile[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    if (!entry.endsWith('.sql')) continue;
    const match = FILE_NAME.exec(entry);
    if (!match)
      throw refuse(
        `migration file '${entry}' is not named NNN_name.sql (digits, an underscore, lowercase letters, digits, '_' or '-').`,
      );
    const version = Number(match[1]);
    if (files.some((f) => f.version === version))
      throw refuse(`two migration files in ${dir.pathname} have version ${version}.`);
    files.push({ version, name: match[2]!, sql: await readFile(new URL(entry, dir), 'utf8') });
  }
  return files.sort((a, b) => a.version - b.version);
}
