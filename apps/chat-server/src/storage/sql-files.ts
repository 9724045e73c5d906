/**
 * Loads the SQL files that sit beside the storages (`./sql/*.sql`): migrations, and named queries
 * in blocks that start with `-- name: <key>`. Files are read relative to this module, so the
 * build copies `src/storage/sql` to `dist/storage/sql` (scripts/copy-sql.mjs).
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

const SQL_DIR = new URL('./sql/', import.meta.url);

/** The SQL dialects we ship. */
export type SqlDialect = 'sqlite' | 'postgres';

/** A migration file: `<dialect>-<NNN>-<name>.sql`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The migrations of a dialect, in version order. */
export function migrations(dialect: SqlDialect): Migration[] {
  const pattern = new RegExp(`^${dialect}-(\\d{3})-([a-z0-9-]+)\\.sql$`);
  return readdirSync(SQL_DIR)
    .map((file) => ({ file, match: pattern.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({
      version: Number(match[1]),
      name: match[2]!,
      sql: readFileSync(new URL(file, SQL_DIR), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

/**
 * The named queries of a dialect: the shared `queries.sql`, overridden by `<dialect>-queries.sql`,
 * the attachments', room settings' and rooms extras' `<dialect>-*-queries.sql`, and the host
 * users' and API keys' `host-queries.sql` and the profiles' `profile-queries.sql`.
 */
export function namedQueries(dialect: SqlDialect): Map<string, string> {
  const queries = new Map<string, string>();
  for (const file of [
    'queries.sql',
    `${dialect}-queries.sql`,
    `${dialect}-attachment-queries.sql`,
    `${dialect}-room-settings-queries.sql`,
    'host-queries.sql',
    'profile-queries.sql',
    `${dialect}-rooms-extra-queries.sql`,
  ]) {
    parseBlocks(readFileSync(new URL(file, SQL_DIR), 'utf8'), queries);
  }
  return queries;
}

function parseBlocks(text: string, into: Map<string, string>): void {
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name) into.set(name, lines.join('\n').trim().replace(/;\s*$/, ''));
  };
  for (const line of text.split('\n')) {
    const header = /^--\s*name:\s*(\w+)\s*$/.exec(line);
    if (header) {
      flush();
      name = header[1];
      lines = [];
    } else if (name && !line.startsWith('--')) {
      lines.push(line);
    }
  }
  flush();
}

/**
 * Rewrites `:name` parameters to PostgreSQL's `$1`, `$2` … (a name used twice gets one number) and
 * returns the names in number order. `::type` casts are left alone.
 */
export function toPositional(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  const text = sql.replace(/(?<![:\w]):([a-zA-Z_]\w*)/g, (_m, key: string) => {
    let index = names.indexOf(key);
    if (index === -1) index = names.push(key) - 1;
    return `$${index + 1}`;
  });
  return { text, names };
}
