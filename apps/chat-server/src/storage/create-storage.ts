/**
 * Picks the storage a configuration asks for: PostgreSQL with `DATABASE_URL`, else SQLite under
 * `DATA_DIR`.
 * @module
 */
import type { ChatConfig } from '../config.js';
import { PostgresStorage } from './postgres-storage.js';
import { SqliteStorage } from './sqlite-storage.js';
import type { ChatStorage } from './storage.js';

/** Opens (does not migrate) the storage of `config`. */
export function createStorage(
  config: Pick<ChatConfig, 'databaseUrl' | 'databaseSchema' | 'dataDir'>,
): ChatStorage {
  if (config.databaseUrl) {
    return new PostgresStorage({ connectionString: config.databaseUrl, schema: config.databaseSchema });
  }
  return SqliteStorage.inDirectory(config.dataDir);
}
