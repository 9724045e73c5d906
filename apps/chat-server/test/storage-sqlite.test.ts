// The storage contract on SQLite: several instances (connections) over one file.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ChatStorage, SqliteStorage } from '@switchboard/chat-server';
import Database from 'better-sqlite3';
import { storageSuite } from './storage-suite.ts';

storageSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-chat-sqlite-'));
  const file = join(dir, 'chat.sqlite');
  const opened: SqliteStorage[] = [];
  return {
    async open(): Promise<ChatStorage> {
      const storage = new SqliteStorage(file);
      await storage.migrate();
      opened.push(storage);
      return storage;
    },
    async raw(sql) {
      return opened[0]!.rawAll(sql);
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('sqlite migration 5 rebuilds messages from its stored schema: columns added before it, rows and indexes stay; clientMessageId becomes unique per room', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-chat-sqlite-old-'));
  const file = join(dir, 'chat.sqlite');
  try {
    // A file as migrations 1 and 2 left it, plus a column and an index another migration could add.
    const old = new Database(file);
    old.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const [version, name] of [
      [1, 'init'],
      [2, 'rate-buckets'],
    ] as const) {
      old.exec(
        readFileSync(new URL(`../src/storage/sql/sqlite-00${version}-${name}.sql`, import.meta.url), 'utf8'),
      );
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(version, name, 'then');
    }
    old.exec('ALTER TABLE messages ADD COLUMN extra INTEGER NOT NULL DEFAULT 7');
    old.exec('CREATE INDEX messages_extra ON messages (extra)');
    old.exec(`INSERT INTO users (id, username, display_name, created_at) VALUES ('u', 'u', 'U', 'then')`);
    for (const room of ['r1', 'r2']) {
      old.exec(
        `INSERT INTO rooms (id, name, is_private, kind, created_at, last_activity_at) VALUES ('${room}', '${room}', 0, 'room', 'then', 'then')`,
      );
    }
    old.exec(
      `INSERT INTO messages (id, room_id, seq, sender_id, text, client_message_id, sent_at, extra) VALUES ('m1', 'r1', 1, 'u', 'kept', 'c1', 'then', 9)`,
    );
    old.exec(`UPDATE rooms SET last_seq = 1 WHERE id = 'r1'`);
    old.close();

    const storage = new SqliteStorage(file);
    await storage.migrate();
    try {
      const columns = storage.rawAll('PRAGMA table_info(messages)').map((c) => c.name);
      assert.ok(columns.includes('extra'), `the added column stays (${columns.join(', ')})`);
      assert.deepEqual(storage.rawAll('SELECT id, text, extra FROM messages'), [
        { id: 'm1', text: 'kept', extra: 9 },
      ]);
      const indexes = storage.rawAll(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'",
      );
      assert.ok(
        indexes.some((i) => i.name === 'messages_extra'),
        'its index too',
      );
      const again = await storage.insertMessage({
        id: 'm2',
        roomId: 'r2',
        senderId: 'u',
        text: 'other room',
        mentions: [],
        clientMessageId: 'c1',
        sentAt: 'now',
      });
      assert.equal(again.created, true);
      assert.equal(
        (
          await storage.insertMessage({
            id: 'm3',
            roomId: 'r1',
            senderId: 'u',
            text: 'retry',
            mentions: [],
            clientMessageId: 'c1',
            sentAt: 'now',
          })
        ).message.id,
        'm1',
      );
      await storage.migrate(); // idempotent
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
