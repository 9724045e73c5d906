/**
 * {@link UserGroupStore}: user-group memberships with an expiry, kept where every node of a
 * cluster reads them (a backplane's backend), so that a membership added on one node applies to
 * the user's connections on every node, those that open later included, until it expires. The
 * store keeps the memberships only; making the live connections join and leave is the
 * application's (it tells the nodes through its own messages). Backends implement it in their
 * packages (a Redis sorted set, a PostgreSQL table, a NATS key-value bucket);
 * {@link MemoryUserGroupStore} serves one node, or several in one process sharing a
 * {@link MemoryUserGroupState}; {@link DocumentUserGroupStore} is the store of a backend whose one
 * atomic operation is "write this document if it is still at that revision" (NATS key-value).
 * @module
 */

/** A user's current memberships: group → when it ends (milliseconds since the Unix epoch). */
export type UserGroupMemberships = ReadonlyMap<string, number>;

/**
 * User-group memberships with an expiry, per scope (an application's name for a set of them, a
 * hub). An expired membership is never reported; when a backend deletes it is its own business.
 */
export interface UserGroupStore {
  /** The backend's name (`memory`, `redis`, `postgres`, `nats`). */
  readonly backend: string;
  /** Connects and prepares what the backend needs (a table, a bucket). Called once, first. */
  start(): Promise<void>;
  /** Adds the user to the group until `expiresAt` (replacing the expiry of a membership it had). */
  add(scope: string, user: string, group: string, expiresAt: number): Promise<void>;
  /** Ends a membership; resolves with whether a current one existed. */
  remove(scope: string, user: string, group: string): Promise<boolean>;
  /** Ends every membership of the user. */
  removeAll(scope: string, user: string): Promise<void>;
  /** The user's current memberships (those ending after `now`). */
  groups(scope: string, user: string, now?: number): Promise<UserGroupMemberships>;
  /** Whether the user has a current membership of the group. */
  has(scope: string, user: string, group: string, now?: number): Promise<boolean>;
  /** Closes the backend's connections. */
  close(): Promise<void>;
}

/** The memberships of {@link MemoryUserGroupStore}s: scope → user → group → expiry. */
export class MemoryUserGroupState {
  /** The memberships (read and written by the stores sharing this state). */
  readonly scopes = new Map<string, Map<string, Map<string, number>>>();
}

/** Memberships in memory: one node's, or those of the nodes of one process sharing a state. */
export class MemoryUserGroupStore implements UserGroupStore {
  readonly backend = 'memory';

  constructor(private readonly state: MemoryUserGroupState = new MemoryUserGroupState()) {}

  async start(): Promise<void> {}

  async add(scope: string, user: string, group: string, expiresAt: number): Promise<void> {
    const users = this.state.scopes.get(scope) ?? new Map<string, Map<string, number>>();
    this.state.scopes.set(scope, users);
    const groups = users.get(user) ?? new Map<string, number>();
    users.set(user, groups);
    groups.set(group, expiresAt);
  }

  async remove(scope: string, user: string, group: string): Promise<boolean> {
    const current = await this.has(scope, user, group);
    const users = this.state.scopes.get(scope);
    const groups = users?.get(user);
    groups?.delete(group);
    if (groups?.size === 0) users!.delete(user);
    return current;
  }

  async removeAll(scope: string, user: string): Promise<void> {
    this.state.scopes.get(scope)?.delete(user);
  }

  async groups(scope: string, user: string, now = Date.now()): Promise<UserGroupMemberships> {
    const users = this.state.scopes.get(scope);
    const groups = users?.get(user);
    if (!groups) return new Map();
    for (const [group, expiresAt] of groups) if (expiresAt <= now) groups.delete(group);
    if (groups.size === 0) users!.delete(user);
    return new Map(groups);
  }

  async has(scope: string, user: string, group: string, now = Date.now()): Promise<boolean> {
    const expiresAt = this.state.scopes.get(scope)?.get(user)?.get(group);
    return expiresAt !== undefined && expiresAt > now;
  }

  async close(): Promise<void> {}
}

/** A user's document in a {@link DocumentUserGroupStore}, as the backend holds it. */
export interface UserGroupDocument {
  /** The document's text; undefined when there is none (never written, or deleted). */
  readonly text: string | undefined;
  /** The backend's revision of the key (of its deletion too); undefined when it never existed. */
  readonly revision: number | undefined;
}

/** The memberships of one user: group → expiry. */
type Memberships = Record<string, number>;

/** Writes by revision give up after this many lost races in a row. */
const MAX_ATTEMPTS = 20;

/**
 * Memberships as one document per user (the JSON object group → expiry), each change written by
 * revision so that two nodes never lose each other's change; expired memberships are dropped on
 * the next write. A backend writes the key of a user and the reads and writes of a document.
 */
export abstract class DocumentUserGroupStore implements UserGroupStore {
  abstract readonly backend: string;
  abstract start(): Promise<void>;
  abstract close(): Promise<void>;
  /** The key of a user's document. */
  protected abstract key(scope: string, user: string): string;
  /** Reads a user's document. */
  protected abstract read(key: string): Promise<UserGroupDocument>;
  /**
   * Writes a user's document if it is still at `revision` (creates it when undefined); rejects on
   * a lost race ({@link conflict} tells it) or a fault.
   */
  protected abstract write(key: string, text: string, revision: number | undefined): Promise<void>;
  /** Whether a rejection of {@link write} means another node wrote first. */
  protected abstract conflict(error: unknown): boolean;
  /** Deletes a user's document. */
  protected abstract delete(key: string): Promise<void>;

  async add(scope: string, user: string, group: string, expiresAt: number): Promise<void> {
    await this.update(scope, user, (doc) => {
      doc[group] = expiresAt;
    });
  }

  async remove(scope: string, user: string, group: string): Promise<boolean> {
    let current = false;
    await this.update(scope, user, (doc) => {
      current = (doc[group] ?? 0) > Date.now();
      delete doc[group];
    });
    return current;
  }

  async removeAll(scope: string, user: string): Promise<void> {
    await this.delete(this.key(scope, user));
  }

  async groups(scope: string, user: string, now = Date.now()): Promise<UserGroupMemberships> {
    const { doc } = await this.document(scope, user);
    return new Map(Object.entries(doc).filter(([, expiresAt]) => expiresAt > now));
  }

  async has(scope: string, user: string, group: string, now = Date.now()): Promise<boolean> {
    const { doc } = await this.document(scope, user);
    return (doc[group] ?? 0) > now;
  }

  private async document(scope: string, user: string): Promise<{ doc: Memberships; revision?: number }> {
    const { text, revision } = await this.read(this.key(scope, user));
    return { doc: text === undefined ? {} : (JSON.parse(text) as Memberships), revision };
  }

  /** Changes the user's document by revision (again on a lost race); drops expired memberships. */
  private async update(scope: string, user: string, change: (doc: Memberships) => void): Promise<void> {
    const key = this.key(scope, user);
    for (let attempt = 1; ; attempt++) {
      const { doc, revision } = await this.document(scope, user);
      change(doc);
      const now = Date.now();
      for (const [group, expiresAt] of Object.entries(doc)) if (expiresAt <= now) delete doc[group];
      try {
        await this.write(key, JSON.stringify(doc), revision);
        return;
      } catch (error) {
        if (this.conflict(error) && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
    }
  }
}
