/**
 * {@link PostgresUserGroupStore}: the scale-out core's user-group memberships in PostgreSQL, one
 * row per membership in `<schema>.user_groups` (the backplane's schema, `schemaFromPrefix(prefix)`),
 * created when missing. Expired rows are never read and are deleted as new memberships are added.
 * @module
 */
import type { UserGroupMemberships, UserGroupStore } from '@switchboard/server/scaleout';
import pg from 'pg';
import { schemaFromPrefix } from './migrations.js';

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
    this.table = `"${this.schema.replace(/"/g, '""')}".user_groups`;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4 });
    this.pool.on('error', () => {}); // an idle connection lost: the next query opens another
  }

  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createTable();
      } catch (error) {
        // Another node (or the backplane's migration) created the schema at the same moment.
        const code = (error as { code?: string }).code;
        if (attempt < 5 && (code === '23505' || code === '42P07' || code === '42P06')) continue;
        throw error;
      }
    }
  }

  private async createTable(): Promise<void> {
    const schema = `"${this.schema.replace(/"/g, '""')}"`;
    const client = await this.pool.connect();
    try {
      // One node at a time: concurrent `create … if not exists` may collide on the catalogue.
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`${this.schema}.user_groups`]);
      await client.query(`create schema if not exists ${schema}`);
      await client.query(
        `create table if not exists ${this.table} (
          scope text not null,
          user_id text not null,
          group_name text not null,
          expires_at bigint not null,
          primary key (scope, user_id, group_name))`,
      );
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
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
