/**
 * {@link UserGroupStore}: user-group memberships with an expiry, kept where every node of a
 * cluster reads them (a backplane's backend), so that a membership added on one node applies to
 * the user's connections on every node, those that open later included, until it expires. The
 * store keeps the memberships only; making the live connections join and leave is the
 * application's (it tells the nodes through its own messages). Backends implement it in their
 * packages (a Redis sorted set, a PostgreSQL table, a NATS key-value bucket);
 * {@link MemoryUserGroupStore} serves one node, or several in one process sharing a
 * {@link MemoryUserGroupState}.
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
