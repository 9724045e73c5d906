// The webhooks' outbox and dispatcher on SQLite (the suite in webhooks-suite.ts), and the outbox's
// triggers across a table rebuild of a later migration.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newWebhookSecret, SqliteStorage, WebhookStore } from '@switchboard/chat-server';
import Database from 'better-sqlite3';
import { rebuildTable } from '../src/storage/sqlite-rebuild.ts';
import { seed, send, webhooksSuite } from './webhooks-suite.ts';

webhooksSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'whkh-sqlite-'));
  let storage: SqliteStorage | undefined;
  return {
    async open() {
      storage = new SqliteStorage(join(dir, 'chat.sqlite'));
      await storage.migrate();
      return storage;
    },
    async exec(_s, sql) {
      // Another connection to the same file, as a second process would have.
      const db = new Database(join(dir, 'chat.sqlite'));
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await storage?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('a later migration that rebuilds a table keeps the outbox triggers working', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'whkh-rebuild-'));
  const storage = new SqliteStorage(join(dir, 'chat.sqlite'));
  try {
    await storage.migrate();
    const store = WebhookStore.of(storage);
    await store.upsertEndpoint(
      'whkh_rebuild',
      'http://127.0.0.1:9/x',
      newWebhookSecret(),
      new Date().toISOString(),
    );
    const db = new Database(join(dir, 'chat.sqlite'));
    try {
      db.pragma('foreign_keys = OFF');
      for (const table of ['messages', 'room_members', 'rooms', 'support_requests']) {
        db.transaction(() => rebuildTable(db, table, (sql) => sql))();
      }
    } finally {
      db.close();
    }
    const { roomId, userId } = await seed(storage);
    await send(storage, roomId, userId, 'after the rebuild');
    const types = storage.rawAll('SELECT type FROM webhook_events ORDER BY created_ms').map((r) => r.type);
    assert.deepEqual(types, ['room.member_added', 'room.member_added', 'message.created']);
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
