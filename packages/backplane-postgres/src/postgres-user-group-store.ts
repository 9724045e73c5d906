/**
 * {@link PostgresUserGroupStore}: the scale-out core's user-group memberships in PostgreSQL, one
 * row per membership in `<schema>.user_groups` (the backplane's schema, `schemaFromPrefix(prefix)`),
 * created by the schema's migrations (component `user-groups`) when missing. Expired rows are
 * never read and are deleted as new memberships are added.
 * @module
 */
import type { UserGroupMemberships, UserGroupStore } from '@switchboard/server/scaleout';
import pg from 'pg';
import { migrateComponents, quoteIdent, schemaFromPrefix } from './migrations.js';

/** Options of a {@link PostgresUserGroupStore}. */
export interface PostgresUserGroupStoreOptions {
  /** The connection string (`postgres://…`). */
  readonly url: string;
  /** The cluster's prefix (the backplane's): the schema is `schemaFromPrefix(prefix)`. Default `switchboard:`. */
  readonly prefix?: string;
  /** The schema, instead of the prefix's. */
  readonly schema?: string;
  /** Connections of the pool. Default 4. */
  readonly poolSize?: number;
}

/** User-group memberships with their expiry in a PostgreSQL table (see the module). */
export class PostgresUserGroupStore implements UserGroupStore {
  readonly backend = 'postgres';
  /** The schema of the table. */
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly table: string;

  constructor(options: PostgresUserGroupStoreOptions) {
    this.schema = options.schema ?? schemaFromPrefix(options.prefix ?? 'switchboard:');
    this.table = `${quoteIdent(this.schema)}.user_groups`;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4 });
    this.pool.on('error', () => {}); // an idle connection lost: the next query opens another
  }

  /** Creates the table when missing (migration component `user-groups`, sql/user-groups/). */
  async start(): Promise<void> {
    await migrateComponents(this.pool, this.schema, 'user-groups');
  }

  async add(scope: string, user: string, group: string, expiresAt: number): Promise<void> {
    await this.pool.query(
      `with gone as (delete from ${this.table} where scope = $1 and user_id = $2 and expires_at <= $5)
       insert into ${this.table} (scope, user_id, group_name, expires_at) values ($1, $2, $3, $4)
       on conflict (scope, user_id, group_name) do update set expires_at = excluded.expires_at`,
      [scope, user, group, expiresAt, Date.now()],
    );
  }

  async remove(scope: string, user: string, group: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ expires_at: string }>(
      `delete from ${this.table} where scope = $1 and user_id = $2 and group_name = $3 returning expires_at`,
      [scope, user, group],
    );
    return rows.some((row) => Number(row.expires_at) > Date.now());
  }

  async removeAll(scope: string, user: string): Promise<void> {
    await this.pool.query(`delete from ${this.table} where scope = $1 and user_id = $2`, [scope, user]);
  }

  async groups(scope: string, user: string, now = Date.now()): Promise<UserGroupMemberships> {
    const { rows } = await this.pool.query<{ group_name: string; expires_at: string }>(
      `select group_name, expires_at from ${this.table} where scope = $1 and user_id = $2 and expires_at > $3`,
      [scope, user, now],
    );
    return new Map(rows.map((row) => [row.group_name, Number(row.expires_at)]));
  }

  async has(scope: string, user: string, group: string, now = Date.now()): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `select 1 from ${this.table} where scope = $1 and user_id = $2 and group_name = $3 and expires_at > $4`,
      [scope, user, group, now],
    );
    return (rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
