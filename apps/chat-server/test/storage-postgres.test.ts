// The storage contract on PostgreSQL: several pools over one database, a fresh schema per test.
import { test } from 'node:test';
import { type ChatStorage, PostgresStorage } from '@switchboard/chat-server';
import { requireService } from '@switchboard/testkit';
import pg from 'pg';
import { storageSuite } from './storage-suite.ts';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let available: boolean | undefined;
let n = 0;

test('PostgreSQL is reachable', async (t) => {
  available = await requireService(t, { kind: 'tcp', name: 'PostgreSQL', host: '127.0.0.1', port: 5432 });
});

storageSuite('postgres', async () => {
  if (!available) return undefined;
  const schema = `chat_test_${process.pid}_${Date.now()}_${++n}`;
  const opened: PostgresStorage[] = [];
  return {
    async open(): Promise<ChatStorage> {
      const storage = new PostgresStorage({ connectionString: URL, schema, maxConnections: 5 });
      await storage.migrate();
      opened.push(storage);
      return storage;
    },
    async raw(sql) {
      return opened[0]!.rawAll(sql);
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      const client = new pg.Client({ connectionString: URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
});
