/**
 * The shared storage: PostgreSQL (node-postgres pool). Several nodes use one database. A message's
 * seq is allocated inside its insert transaction by `UPDATE rooms SET last_seq = last_seq + 1 …
 * RETURNING last_seq`, which holds the room row's lock until commit: concurrent writers on any pool
 * or node queue on it, so the sequence has no gap and no duplicate. A duplicate clientMessageId
 * rolls the whole transaction back, so it does not consume a number either.
 * @module
 */
import pg from 'pg';
import { notFound } from '../errors.js';
import { MAX_DISTINCT_REACTIONS, type Message, type Reaction, type Room } from '../types.js';
import type { BlobStore } from './attachments.js';
import { migrations, namedQueries, toPositional } from './sql-files.js';
import {
  addReaction,
  changeStatements,
  type Params,
  type Row,
  SqlStorage,
  tooManyReactions,
} from './sql-storage.js';
import type { ChangeKind, NewMessage, NewRoom } from './storage.js';

/** Options of {@link PostgresStorage}. */
export interface PostgresStorageOptions {
  /** `postgres://user@host:port/database`. */
  readonly connectionString: string;
  /** The schema holding the tables (created when absent). Default `public`. */
  readonly schema?: string;
  /** Pool size. Default 10. */
  readonly maxConnections?: number;
}

type Query = { text: string; names: string[] };

/** A {@link ChatStorage} on PostgreSQL. */
export class PostgresStorage extends SqlStorage {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private readonly queries = new Map<string, Query>();

  constructor(options: PostgresStorageOptions) {
    super();
    this.schema = options.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]*$/.test(this.schema)) throw new Error(`Invalid schema name '${this.schema}'.`);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      options: `-c search_path=${this.schema}`,
    });
    // An idle client's error (the server restarted) must not crash the process; the next query
    // gets a fresh connection.
    this.pool.on('error', () => {});
    for (const [name, sql] of namedQueries('postgres')) this.queries.set(name, toPositional(sql));
  }

  async migrate(): Promise<void> {
    await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
    await this.transaction(async (client) => {
      await this.exec(client, 'lockMigrations');
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)',
      );
      const applied = new Set(
        (await client.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
      );
      for (const m of migrations('postgres')) {
        if (applied.has(m.version)) continue;
        await client.query(m.sql);
        await client.query(
          'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())',
          [m.version, m.name],
        );
      }
      return true;
    });
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Attachments' bytes in this database (`attachment_blobs`): every node on it serves every file. */
  blobStore(): BlobStore {
    return {
      kind: 'postgres',
      put: async (id, data) => {
        await this.run('putBlob', { id, data });
      },
      get: async (id) => {
        const row = await this.get('getBlob', { id });
        return row ? (row.data as Buffer) : undefined;
      },
      delete: async (ids) => {
        if (ids.length > 0) await this.run('deleteBlobs', { ids: [...ids] });
      },
    };
  }

  /** Runs raw SQL (tests and tools). */
  async rawAll(sql: string, ...params: unknown[]): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows;
  }

  protected async all(name: string, params: Params = {}): Promise<Row[]> {
    const q = this.query(name);
    return (
      await this.pool.query(
        q.text,
        q.names.map((n) => params[n] ?? null),
      )
    ).rows;
  }
  protected async run(name: string, params: Params = {}): Promise<number> {
    const q = this.query(name);
    return (
      (
        await this.pool.query(
          q.text,
          q.names.map((n) => params[n] ?? null),
        )
      ).rowCount ?? 0
    );
  }
  protected idList(ids: readonly string[]): string[] {
    return [...ids];
  }
  protected searchExpression(query: string): string {
    // Every word is a prefix ("thank" finds "thanks"); letters and digits only, so to_tsquery
    // reads no operator the user typed.
    const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    return words.map((w) => `${w}:*`).join(' & ');
  }

  async createRoom(room: NewRoom, memberIds: readonly string[]): Promise<Room> {
    const created = await this.transaction(async (client) => {
      const rows = await this.exec(client, 'insertRoom', this.roomParams(room));
      if (rows.length === 0) return undefined; // the same direct set exists: roll back, answer it
      for (const userId of new Set(memberIds)) {
        await this.exec(client, 'insertMember', { roomId: room.id, userId, at: room.createdAt });
      }
      return true;
    });
    if (!created && room.kind === 'room') throw await this.nameTaken(room);
    return (created ? await this.roomById(room.id) : await this.directRoomByKey(room.directKey ?? ''))!;
  }

  async insertMessage(m: NewMessage): Promise<{ message: Message; created: boolean }> {
    const existing = await this.get('messageBySenderClientId', { ...m });
    if (existing) return { message: (await this.hydrate([existing]))[0]!, created: false };
    const created = await this.transaction(async (client) => {
      const counter = (await this.exec(client, 'nextSeq', { roomId: m.roomId, at: m.sentAt }))[0];
      if (!counter) throw notFound('No such room.');
      const seq = Number(counter.last_seq);
      const parent = m.parentId ? (await this.exec(client, 'messageById', { id: m.parentId }))[0] : undefined;
      if (m.parentId && (!parent || String(parent.room_id) !== m.roomId))
        throw notFound('No such message in this room.');
      const inserted = await this.exec(client, 'insertMessage', { ...m, parentId: m.parentId ?? null, seq });
      if (inserted.length === 0) return undefined; // a concurrent duplicate won: give the number back
      if (m.parentId && parent) {
        await this.exec(client, 'addReply', { parentId: m.parentId, seq });
        const changeSeq = await this.nextChange(client, m.roomId);
        await this.logChange(client, parent, 'replies', m.sentAt, changeSeq);
        await this.exec(client, 'advanceThreadRead', {
          parentId: m.parentId,
          userId: m.senderId,
          roomId: m.roomId,
          seq,
        });
      }
      for (const userId of new Set(m.mentions)) {
        await this.exec(client, 'insertMention', { messageId: m.id, userId, roomId: m.roomId, seq });
      }
      await this.exec(client, 'advanceReadMarker', { roomId: m.roomId, userId: m.senderId, seq });
      return true;
    });
    if (created) return { message: (await this.messageById(m.id))!, created: true };
    const winner = (await this.get('messageBySenderClientId', { ...m }))!;
    return { message: (await this.hydrate([winner]))[0]!, created: false };
  }

  async editMessage(
    id: string,
    text: string,
    mentions: readonly string[],
    editedAt: string,
  ): Promise<Message> {
    await this.transaction(async (client) => {
      const row = (await this.exec(client, 'messageById', { id }))[0];
      if (!row) throw notFound('No such message.');
      // Every change takes the room's lock first (then the message's): one order, no deadlock.
      const changeSeq = await this.nextChange(client, String(row.room_id));
      await this.exec(client, 'updateMessageText', { id, text, editedAt });
      await this.exec(client, 'deleteMentions', { messageId: id });
      for (const userId of new Set(mentions)) {
        await this.exec(client, 'insertMention', {
          messageId: id,
          userId,
          roomId: row.room_id,
          seq: row.seq,
        });
      }
      await this.logChange(client, row, 'edited', editedAt, changeSeq);
      return true;
    });
    return (await this.messageById(id))!;
  }

  async deleteMessage(id: string, at = new Date().toISOString()): Promise<Message> {
    await this.transaction(async (client) => {
      const row = (await this.exec(client, 'messageById', { id }))[0];
      if (!row) throw notFound('No such message.');
      const changeSeq = await this.nextChange(client, String(row.room_id));
      const marked = await client.query(this.query('markMessageDeleted').text, [id]);
      if (marked.rowCount === 0) throw notFound('No such message.');
      await this.exec(client, 'deleteMentions', { messageId: id });
      await this.exec(client, 'deleteReactionsOf', { messageId: id });
      await this.logChange(client, row, 'deleted', at, changeSeq);
      return true;
    });
    return (await this.messageById(id))!;
  }

  async toggleReaction(
    messageId: string,
    userId: string,
    emoji: string,
    at: string,
    maxDistinct = MAX_DISTINCT_REACTIONS,
  ): Promise<Reaction[]> {
    const rows = await this.transaction(async (client) => {
      const row = (await this.exec(client, 'messageById', { id: messageId }))[0];
      if (!row) throw notFound('No such message.');
      // The room's change counter first: its row lock orders concurrent toggles on the message.
      const changeSeq = await this.nextChange(client, String(row.room_id));
      if ((await this.exec(client, 'deleteReaction', { messageId, userId, emoji })).length === 0) {
        const counts = (await this.exec(client, 'distinctOtherEmoji', { messageId, emoji }))[0];
        const refusal = tooManyReactions(counts, maxDistinct);
        if (refusal) throw refusal;
        await this.exec(client, 'insertReaction', { messageId, userId, emoji, at });
      }
      await this.logChange(client, row, 'reactions', at, changeSeq);
      return this.exec(client, 'reactionsOf', { ids: [messageId] });
    });
    const folded = new Map<string, Reaction[]>();
    for (const r of rows ?? []) addReaction(folded, r);
    return folded.get(messageId) ?? [];
  }

  /** Takes the room's next change number (locking the room row until the transaction ends). */
  private async nextChange(client: pg.PoolClient, roomId: string): Promise<number> {
    return Number((await this.exec(client, 'nextChange', { roomId }))[0]!.last_change);
  }

  /** Logs a change of the message `row` under the number {@link nextChange} took. */
  private async logChange(
    client: pg.PoolClient,
    row: Row,
    kind: ChangeKind,
    at: string,
    changeSeq: number,
  ): Promise<void> {
    const roomId = String(row.room_id);
    for (const [name, params] of changeStatements(
      roomId,
      String(row.id),
      Number(row.seq),
      kind,
      at,
      changeSeq,
    ))
      await this.exec(client, name, params);
  }

  private query(name: string): Query {
    const q = this.queries.get(name);
    if (!q) throw new Error(`No SQL query named '${name}'.`);
    return q;
  }

  private async exec(client: pg.PoolClient, name: string, params: Params = {}): Promise<Row[]> {
    const q = this.query(name);
    return (
      await client.query(
        q.text,
        q.names.map((n) => params[n] ?? null),
      )
    ).rows;
  }

  /**
   * Runs `fn` in a transaction on one client. It commits when `fn` returns a value and rolls back
   * when it returns undefined (nothing to keep) or throws.
   */
  private async transaction<T>(
    fn: (client: pg.PoolClient) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query(result === undefined ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}
