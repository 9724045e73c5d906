/**
 * Table changes SQLite's ALTER TABLE cannot make (a UNIQUE constraint changed), as SQLite's own
 * procedure does them: a new table from the stored CREATE TABLE text with the change applied, every
 * row copied, the old table dropped, the new one renamed, its indexes and triggers made again.
 * Working from the stored text keeps whatever columns other migrations added before this one.
 * @module
 */
import type Database from 'better-sqlite3';

/**
 * Steps that run after a migration's SQL, in the same transaction, by migration name (the part of
 * `sqlite-NNN-<name>.sql` after the number). The runner turns foreign key enforcement off around
 * them and checks the keys before committing.
 */
export const SQLITE_MIGRATION_STEPS: Readonly<Partial<Record<string, (db: Database.Database) => void>>> = {
  // A clientMessageId is unique per room and sender (was: per sender).
  security: (db) =>
    rebuildTable(db, 'messages', (sql) =>
      replaceOnce(
        sql,
        /UNIQUE\s*\(\s*sender_id\s*,\s*client_message_id\s*\)/i,
        'UNIQUE (room_id, sender_id, client_message_id)',
      ),
    ),
};

/** Rebuilds `table` with `edit` applied to its CREATE TABLE text. */
export function rebuildTable(db: Database.Database, table: string, edit: (sql: string) => string): void {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as
    | { sql: string }
    | undefined;
  if (!row) throw new Error(`No table '${table}' to rebuild.`);
  const rebuilt = `${table}_rebuilt`;
  const create = edit(row.sql).replace(/^CREATE TABLE\s+("?)\w+\1/i, `CREATE TABLE ${rebuilt}`);
  const extras = db
    .prepare(
      "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL",
    )
    .all(table) as { sql: string }[];
  db.exec(create);
  db.exec(`INSERT INTO ${rebuilt} SELECT * FROM ${table}`);
  db.exec(`DROP TABLE ${table}`);
  // Triggers of other tables that name this one (the webhooks' outbox) would make the rename fail
  // while the table is gone; the legacy rename leaves them as they are, and they name it again.
  const legacy = Boolean(db.pragma('legacy_alter_table', { simple: true }));
  db.pragma('legacy_alter_table = ON');
  try {
    db.exec(`ALTER TABLE ${rebuilt} RENAME TO ${table}`);
  } finally {
    db.pragma(`legacy_alter_table = ${legacy ? 'ON' : 'OFF'}`);
  }
  for (const extra of extras) db.exec(extra.sql);
}

function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(text)) throw new Error(`The schema does not have ${pattern}.`);
  return text.replace(pattern, replacement);
}
