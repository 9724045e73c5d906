/**
 * What one node knows of its own connections, per hub: their users and groups, and the user-group
 * memberships of their users (read from the cluster's {@link UserGroupStore}, which the REST API
 * writes, and kept up to date by the commands). It executes the cluster's commands
 * ({@link ClusterCommand}) on the local connections; {@link Cluster} carries them between nodes.
 * @module
 */
import type { HubContext, Logger } from '@switchboard/server';
import type { UserGroupStore } from '@switchboard/server/scaleout';

/** A command every node executes on its own connections; the answer is "found or changed any". */
export type ClusterCommand =
  | { readonly op: 'has-connection'; readonly hub: string; readonly id: string }
  | { readonly op: 'has-user'; readonly hub: string; readonly user: string }
  | { readonly op: 'has-group'; readonly hub: string; readonly group: string }
  | { readonly op: 'user-in-group'; readonly hub: string; readonly user: string; readonly group: string }
  | {
      readonly op: 'add-connection-to-group';
      readonly hub: string;
      readonly id: string;
      readonly group: string;
    }
  | {
      readonly op: 'remove-connection-from-group';
      readonly hub: string;
      readonly id: string;
      readonly group: string;
    }
  | { readonly op: 'remove-connection-from-all-groups'; readonly hub: string; readonly id: string }
  | {
      readonly op: 'close-connections';
      readonly hub: string;
      /** Only the connections of this group, or of this user; all of the hub when neither. */
      readonly group?: string;
      readonly user?: string;
      readonly excluded: readonly string[];
      readonly reason?: string;
    }
  | {
      readonly op: 'add-user-to-group';
      readonly hub: string;
      readonly user: string;
      readonly group: string;
      /** When the membership ends (ms since the epoch); null: only the user's current connections. */
      readonly expiresAt: number | null;
    }
  | {
      readonly op: 'remove-user-from-group';
      readonly hub: string;
      readonly user: string;
      readonly group: string;
    }
  | { readonly op: 'remove-user-from-all-groups'; readonly hub: string; readonly user: string };

interface LocalConnection {
  readonly id: string;
  readonly userId: string | undefined;
  readonly groups: Set<string>;
}

interface LocalHub {
  readonly context: HubContext;
  readonly connections: Map<string, LocalConnection>;
  readonly users: Map<string, Set<string>>;
  /** The memberships of the users with a connection here: user → group → expiry. */
  readonly userGroups: Map<string, Map<string, number>>;
  /** Per user with a connection here, how many removals of memberships this node executed. */
  readonly removals: Map<string, number>;
}

/** The local connections of every hub of a node, and the memberships of their users. */
export class LocalRegistry {
  private readonly hubs = new Map<string, LocalHub>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly logger: Logger,
    /** The cluster's user-group memberships (the registry only reads it). */
    readonly store: UserGroupStore,
    sweepIntervalMs = 1_000,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Registers a hub (its key is its lower-case name) with the context its groups change through. */
  addHub(hub: string, context: HubContext): void {
    this.hubs.set(hub, {
      context,
      connections: new Map(),
      users: new Map(),
      userGroups: new Map(),
      removals: new Map(),
    });
  }

  /**
   * A connection of this node started (it is registered with the hub's lifetime manager): it
   * joins `groups` and the groups its user is a member of in the store. A command that changes the
   * user's memberships meanwhile applies to it too (a removal made while the store was read makes
   * it read again).
   */
  async addConnection(
    hub: string,
    id: string,
    userId: string | undefined,
    groups: readonly string[] = [],
  ): Promise<void> {
    const state = this.hubs.get(hub)!;
    state.connections.set(id, { id, userId, groups: new Set() });
    if (userId !== undefined) {
      const ids = state.users.get(userId) ?? new Set<string>();
      state.users.set(userId, ids);
      ids.add(id);
    }
    for (const group of groups) await this.join(state, id, group);
    if (userId === undefined) return;
    let memberships: ReadonlyMap<string, number>;
    for (;;) {
      const removals = state.removals.get(userId) ?? 0;
      memberships = await this.store.groups(hub, userId);
      if ((state.removals.get(userId) ?? 0) === removals) break;
    }
    if (!state.connections.has(id)) return; // ended meanwhile
    const cached = state.userGroups.get(userId) ?? new Map<string, number>();
    state.userGroups.set(userId, cached);
    for (const [group, expiresAt] of memberships) {
      if (!cached.has(group)) cached.set(group, expiresAt);
    }
    const now = Date.now();
    for (const [group, expiresAt] of cached) if (expiresAt > now) await this.join(state, id, group);
  }

  /** A connection of this node ended. */
  removeConnection(hub: string, id: string): void {
    const state = this.hubs.get(hub);
    const connection = state?.connections.get(id);
    if (!state || !connection) return;
    state.connections.delete(id);
    if (connection.userId === undefined) return;
    const ids = state.users.get(connection.userId);
    ids?.delete(id);
    if (ids?.size === 0) {
      state.users.delete(connection.userId);
      state.userGroups.delete(connection.userId);
      state.removals.delete(connection.userId);
    }
  }

  /** Adds a local connection to a group (the connect event's groups). */
  async addToGroup(hub: string, id: string, group: string): Promise<boolean> {
    const state = this.hubs.get(hub);
    if (!state?.connections.has(id)) return false;
    await this.join(state, id, group);
    return true;
  }

  /** Executes a command on this node's connections. */
  async execute(command: ClusterCommand): Promise<boolean> {
    const state = this.hubs.get(command.hub);
    if (!state) return false;
    switch (command.op) {
      case 'has-connection':
        return state.connections.has(command.id);
      case 'has-user':
        return state.users.has(command.user);
      case 'has-group':
        for (const connection of state.connections.values())
          if (connection.groups.has(command.group)) return true;
        return false;
      case 'user-in-group': {
        const expiresAt = state.userGroups.get(command.user)?.get(command.group);
        if (expiresAt !== undefined && expiresAt > Date.now()) return true;
        return this.userConnections(state, command.user).some((c) => c.groups.has(command.group));
      }
      case 'add-connection-to-group':
        return this.addToGroup(command.hub, command.id, command.group);
      case 'remove-connection-from-group': {
        const connection = state.connections.get(command.id);
        if (!connection) return false;
        await this.leave(state, connection, command.group);
        return true;
      }
      case 'remove-connection-from-all-groups': {
        const connection = state.connections.get(command.id);
        if (!connection) return false;
        for (const group of [...connection.groups]) await this.leave(state, connection, group);
        return true;
      }
      case 'close-connections': {
        const excluded = new Set(command.excluded);
        let targets = [...state.connections.values()];
        if (command.group !== undefined) targets = targets.filter((c) => c.groups.has(command.group!));
        if (command.user !== undefined) targets = this.userConnections(state, command.user);
        targets = targets.filter((c) => !excluded.has(c.id));
        await Promise.all(
          targets.map((c) =>
            state.context.connections.close(c.id, command.reason ? { reason: command.reason } : {}),
          ),
        );
        return targets.length > 0;
      }
      case 'add-user-to-group': {
        const connections = this.userConnections(state, command.user);
        if (command.expiresAt !== null && connections.length > 0) {
          const memberships = state.userGroups.get(command.user) ?? new Map<string, number>();
          state.userGroups.set(command.user, memberships);
          memberships.set(command.group, command.expiresAt);
        }
        for (const c of connections) await this.join(state, c.id, command.group);
        return connections.length > 0;
      }
      case 'remove-user-from-group': {
        this.removed(state, command.user);
        state.userGroups.get(command.user)?.delete(command.group);
        const connections = this.userConnections(state, command.user);
        for (const c of connections) await this.leave(state, c, command.group);
        return connections.length > 0;
      }
      case 'remove-user-from-all-groups': {
        this.removed(state, command.user);
        state.userGroups.delete(command.user);
        const connections = this.userConnections(state, command.user);
        for (const c of connections) for (const group of [...c.groups]) await this.leave(state, c, group);
        return connections.length > 0;
      }
    }
  }

  /** Stops the expiry sweep. */
  close(): void {
    clearInterval(this.sweeper);
  }

  /** Ends expired memberships: the user's connections here leave the group. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const state of this.hubs.values()) {
      for (const [user, memberships] of state.userGroups) {
        for (const [group, expiresAt] of memberships) {
          if (expiresAt > now) continue;
          memberships.delete(group);
          for (const c of this.userConnections(state, user)) {
            await this.leave(state, c, group).catch((error: unknown) =>
              this.logger.warn('service.user_group_expiry_failed', {
                user,
                group,
                error: (error as Error).message,
              }),
            );
          }
        }
        if (memberships.size === 0) state.userGroups.delete(user);
      }
    }
  }

  /** Counts a removal of the user's memberships (for a connection reading the store meanwhile). */
  private removed(state: LocalHub, user: string): void {
    if (state.users.has(user)) state.removals.set(user, (state.removals.get(user) ?? 0) + 1);
  }

  private userConnections(state: LocalHub, user: string): LocalConnection[] {
    const ids = state.users.get(user);
    if (!ids) return [];
    return [...ids]
      .map((id) => state.connections.get(id))
      .filter((c): c is LocalConnection => c !== undefined);
  }

  private async join(state: LocalHub, id: string, group: string): Promise<void> {
    const connection = state.connections.get(id);
    if (!connection || connection.groups.has(group)) return;
    connection.groups.add(group);
    await state.context.groups.add(id, group);
  }

  private async leave(state: LocalHub, connection: LocalConnection, group: string): Promise<void> {
    if (!connection.groups.delete(group)) return;
    await state.context.groups.remove(connection.id, group);
  }
}
