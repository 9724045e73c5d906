/**
 * The embedded storage: one SQLite file (better-sqlite3). Every transaction runs synchronously
 * under BEGIN IMMEDIATE, so writers on other connections to the same file (other instances, other
 * processes) wait for the write lock (busy timeout) and never interleave: the room sequence stays
 * gap-free. Deleted text is overwritten on disk (`secure_delete`). Statements share a time budget per
 * turn of the event loop ({@link SQLITE_TURN_BUDGET_MS}), so a pipeline of calls never holds the
 * loop for long.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { notFound } from '../errors.js';
import { MAX_DISTINCT_REACTIONS, type Message, type Reaction, type Room } from '../types.js';
import { migrations, namedQueries } from './sql-files.js';
import {
  addReaction,
  changeStatements,
  type Params,
  type Row,
  SqlStorage,
  tooManyReactions,
} from './sql-storage.js';
import { SQLITE_MIGRATION_STEPS } from './sqlite-rebuild.js';
import type { ChangeKind, NewMessage, NewRoom } from './storage.js';

/** The file name of the database inside `DATA_DIR`. */
export const SQLITE_FILE_NAME = 'chat.sqlite';

/**
 * How long the storage's statements may hold the event loop in one turn, in ms. better-sqlite3 is
 * synchronous: a pipeline of calls (one user's thousands of queued invocations) would otherwise
 * run statement after statement without letting any other socket be read. Past the budget, the
 * next statement waits for the next turn (`setImmediate`), after pending I/O: every other
 * connection gets its turn while the pipeline goes on.
 */
export const SQLITE_TURN_BUDGET_MS = 4;

/** A {@link ChatStorage} on one SQLite file. */
export class SqliteStorage extends SqlStorage {
  readonly kind = 'sqlite' as const;
  /** The database file. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly queries = namedQueries('sqlite');
  private readonly statements = new Map<string, Database.Statement>();
  /** When the running budget started (see `turn`). */
  private budgetFrom = Number.NEGATIVE_INFINITY;
  /** Whether a budget started since the event loop last reached its check phase. */
  private armed = false;

  /** Opens (creating when needed) the file at `path`; `:memory:` works for throwaway use. */
  constructor(path: string) {
    super();
    this.path = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // The busy timeout first: switching to WAL takes a lock that another process (a worker) opening
    // the same file at the same moment may hold.
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('secure_delete = ON');
  }

  /** Opens `<dataDir>/chat.sqlite`. */
  static inDirectory(dataDir: string): SqliteStorage {
    return new SqliteStorage(join(dataDir, SQLITE_FILE_NAME));
  }

  async migrate(): Promise<void> {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const m of migrations('sqlite')) {
      const step = SQLITE_MIGRATION_STEPS[m.name];
      // A table rebuild drops a table others may reference: keys are checked at the end instead.
      if (step) this.db.pragma('foreign_keys = OFF');
      try {
        this.db
          .transaction(() => {
            if (this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return;
            this.db.exec(m.sql);
            if (step) {
              step(this.db);
              const broken = this.db.pragma('foreign_key_check') as unknown[];
              if (broken.length > 0)
                throw new Error(`Migration ${m.name} broke ${broken.length} foreign keys.`);
            }
            this.db
              .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
              .run(m.version, m.name, new Date().toISOString());
          })
          .immediate();
      } finally {
        if (step) this.db.pragma('foreign_keys = ON');
      }
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Runs raw SQL (tests and tools). */
  rawAll(sql: string, ...params: unknown[]): Row[] {
    return this.db.prepare(sql).all(...params) as Row[];
  }

  protected async all(name: string, params: Params = {}): Promise<Row[]> {
    await this.turn();
    return this.allSync(name, params);
  }
  protected async run(name: string, params: Params = {}): Promise<number> {
    await this.turn();
    return this.runSync(name, params);
  }

  /**
   * Resolves at once while the statements since the current budget started have used less than
   * {@link SQLITE_TURN_BUDGET_MS}, else in the next turn of the event loop (after pending I/O). Each
   * caller that resumes gets a fresh budget, so the callers waiting take turns, round robin.
   */
  private async turn(): Promise<void> {
    if (performance.now() - this.budgetFrom < SQLITE_TURN_BUDGET_MS) return;
    // The first statement since the loop last turned starts a budget without waiting.
    if (this.armed) await new Promise<void>((resolve) => setImmediate(resolve));
    this.budgetFrom = performance.now();
    if (!this.armed) {
      this.armed = true;
      setImmediate(() => {
        this.armed = false;
      });
    }
  }

  protected idList(ids: readonly string[]): string {
    return JSON.stringify(ids);
  }
  protected searchExpression(query: string): string {
    // Every word is a prefix ("thank" finds "thanks"); quoted, so FTS5 reads no operator in it.
    const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    return words.map((w) => `"${w}"*`).join(' ');
  }

  async createRoom(room: NewRoom, memberIds: readonly string[]): Promise<Room> {
    await this.turn();
    const created = this.db
      .transaction(() => {
        const row = this.getSync('insertRoom', this.roomParams(room));
        if (!row) return false;
        for (const userId of new Set(memberIds))
          this.runSync('insertMember', { roomId: room.id, userId, at: room.createdAt });
        return true;
      })
      .immediate();
    if (!created && room.kind === 'room') throw await this.nameTaken(room);
    const stored = created ? await this.roomById(room.id) : await this.directRoomByKey(room.directKey ?? '');
    return stored!;
  }

  async insertMessage(m: NewMessage): Promise<{ message: Message; created: boolean }> {
    await this.turn();
    const outcome = this.db
      .transaction((): { id: string; created: boolean } => {
        const existing = this.getSync('messageBySenderClientId', { ...m });
        if (existing) return { id: String(existing.id), created: false };
        const counter = this.getSync('nextSeq', { roomId: m.roomId, at: m.sentAt });
        if (!counter) throw notFound('No such room.');
        const seq = Number(counter.last_seq);
        const parent = m.parentId ? this.getSync('messageById', { id: m.parentId }) : undefined;
        if (m.parentId && (!parent || String(parent.room_id) !== m.roomId))
          throw notFound('No such message in this room.');
        this.getSync('insertMessage', { ...m, parentId: m.parentId ?? null, seq });
        if (m.parentId && parent) {
          this.runSync('addReply', { parentId: m.parentId, seq });
          this.logChangeSync(parent, 'replies', m.sentAt);
          this.runSync('advanceThreadRead', {
            parentId: m.parentId,
            userId: m.senderId,
            roomId: m.roomId,
            seq,
          });
        }
        for (const userId of new Set(m.mentions)) {
          this.runSync('insertMention', { messageId: m.id, userId, roomId: m.roomId, seq });
        }
        this.runSync('ftsInsert', { messageId: m.id, roomId: m.roomId, text: m.text });
        this.runSync('advanceReadMarker', { roomId: m.roomId, userId: m.senderId, seq });
        return { id: m.id, created: true };
      })
      .immediate();
    return { message: (await this.messageById(outcome.id))!, created: outcome.created };
  }

  async editMessage(
    id: string,
    text: string,
    mentions: readonly string[],
    editedAt: string,
  ): Promise<Message> {
    await this.turn();
    this.db
      .transaction(() => {
        const row = this.getSync('messageById', { id });
        if (!row) throw notFound('No such message.');
        this.runSync('updateMessageText', { id, text, editedAt });
        this.runSync('deleteMentions', { messageId: id });
        for (const userId of new Set(mentions)) {
          this.runSync('insertMention', { messageId: id, userId, roomId: row.room_id, seq: row.seq });
        }
        this.runSync('ftsDelete', { messageId: id });
        this.runSync('ftsInsert', { messageId: id, roomId: row.room_id, text });
        this.logChangeSync(row, 'edited', editedAt);
      })
      .immediate();
    return (await this.messageById(id))!;
  }

  async deleteMessage(id: string, at = new Date().toISOString()): Promise<Message> {
    await this.turn();
    this.db
      .transaction(() => {
        const row = this.getSync('messageById', { id });
        if (!row || this.runSync('markMessageDeleted', { id }) === 0) throw notFound('No such message.');
        this.runSync('deleteMentions', { messageId: id });
        this.runSync('deleteReactionsOf', { messageId: id });
        this.runSync('ftsDelete', { messageId: id });
        this.logChangeSync(row, 'deleted', at);
      })
      .immediate();
    return (await this.messageById(id))!;
  }

  async toggleReaction(
    messageId: string,
    userId: string,
    emoji: string,
    at: string,
    maxDistinct = MAX_DISTINCT_REACTIONS,
  ): Promise<Reaction[]> {
    await this.turn();
    const rows = this.db
      .transaction(() => {
        const row = this.getSync('messageById', { id: messageId });
        if (!row) throw notFound('No such message.');
        if (!this.getSync('deleteReaction', { messageId, userId, emoji })) {
          const refusal = tooManyReactions(
            this.getSync('distinctOtherEmoji', { messageId, emoji }),
            maxDistinct,
          );
          if (refusal) throw refusal;
          this.runSync('insertReaction', { messageId, userId, emoji, at });
        }
        this.logChangeSync(row, 'reactions', at);
        return this.allSync('reactionsOf', { ids: this.idList([messageId]) });
      })
      .immediate();
    const folded = new Map<string, Reaction[]>();
    for (const r of rows) addReaction(folded, r);
    return folded.get(messageId) ?? [];
  }

  /** Logs a change of the message `row` with the room's next change number (inside a transaction). */
  private logChangeSync(row: Row, kind: ChangeKind, at: string): void {
    const roomId = String(row.room_id);
    const changeSeq = Number(this.getSync('nextChange', { roomId })!.last_change);
    for (const [name, params] of changeStatements(
      roomId,
      String(row.id),
      Number(row.seq),
      kind,
      at,
      changeSeq,
    ))
      this.runSync(name, params);
  }

  private statement(name: string): Database.Statement {
    let statement = this.statements.get(name);
    if (!statement) {
      const sql = this.queries.get(name);
      if (sql === undefined) throw new Error(`No SQL query named '${name}'.`);
      statement = this.db.prepare(sql);
      this.statements.set(name, statement);
    }
    return statement;
  }
  private bind(params: Params): Record<string, unknown> {
    const statementParams: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(params)) {
      statementParams[key] =
        typeof value === 'boolean' ? (value ? 1 : 0) : value === undefined ? null : value;
    }
    return statementParams;
  }
  /** Binds only the parameters the statement names (better-sqlite3 refuses extra ones). */
  private paramsFor(name: string, params: Params): Record<string, unknown> {
    const sql = this.queries.get(name) ?? '';
    const bound = this.bind(params);
    const wanted: Record<string, unknown> = {};
    for (const match of sql.matchAll(/(?<![:\w]):([a-zA-Z_]\w*)/g))
      wanted[match[1]!] = bound[match[1]!] ?? null;
    return wanted;
  }
  private allSync(name: string, params: Params = {}): Row[] {
    return this.statement(name).all(this.paramsFor(name, params)) as Row[];
  }
  private getSync(name: string, params: Params = {}): Row | undefined {
    return this.allSync(name, params)[0];
  }
  private runSync(name: string, params: Params = {}): number {
    return this.statement(name).run(this.paramsFor(name, params)).changes;
  }
}
