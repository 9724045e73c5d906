// Migration 6 (room names unique) on a SQLite database made before it, with rooms that already
// share names: it applies, every room keeps its name, and new clashes are refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStorage } from '@switchboard/chat-server';
import Database from 'better-sqlite3';

const SQL_DIR = new URL('../src/storage/sql/', import.meta.url);

test('sqlite: rooms that shared a name before migration 6 keep it; new clashes are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-chat-names-'));
  const file = join(dir, 'chat.sqlite');
  try {
    // The database as it was: every migration before 6, and three rooms named "lobby" in some case.
    const db = new Database(file);
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const name of readdirSync(SQL_DIR).sort()) {
      const match = /^sqlite-(\d{3})-([a-z0-9-]+)\.sql$/.exec(name);
      if (!match || Number(match[1]) >= 6) continue;
      db.exec(readFileSync(new URL(name, SQL_DIR), 'utf8'));
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(Number(match[1]), match[2], 'then');
    }
    const insert = db.prepare(
      "INSERT INTO rooms (id, name, is_private, kind, owner_id, created_at, last_activity_at) VALUES (?, ?, ?, 'room', ?, ?, ?)",
    );
    insert.run('r1', 'Lobby', 0, 'u1', '2024-01-01', '2024-01-01');
    insert.run('r2', 'LOBBY', 0, 'u2', '2024-01-02', '2024-01-02');
    insert.run('r3', 'lobby', 1, 'u2', '2024-01-03', '2024-01-03');
    db.close();

    const storage = new SqliteStorage(file);
    await storage.migrate();
    const rows = storage.rawAll('SELECT id, name, name_key FROM rooms ORDER BY id');
    assert.deepEqual(
      rows.map((r) => [r.id, r.name, r.name_key]),
      [
        ['r1', 'Lobby', 'lobby'],
        ['r2', 'LOBBY', 'lobby #r2'],
        ['r3', 'lobby', 'lobby #r3'],
      ],
    );
    await assert.rejects(
      storage.createRoom(
        { id: 'r4', name: 'lobby', isPrivate: false, kind: 'room', ownerId: 'u3', createdAt: '2025-01-01' },
        [],
      ),
      /public room named "lobby"/,
    );
    await storage.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
