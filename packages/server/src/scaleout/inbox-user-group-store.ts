/**
 * User-group memberships shared by the worker processes of one machine with no outside service:
 * the primary process holds them ({@link InboxUserGroupHost}, one {@link MemoryUserGroupStore})
 * and every worker reaches them over its IPC channel ({@link InboxUserGroupStore}), as the in-box
 * bus reaches its broker. Each operation is one request and one answer; the primary runs them one
 * at a time in the order it receives them, so a membership written through one worker is read by
 * every other worker as soon as the write was answered.
 *
 * The messages carry `sbUserGroups`, so that the in-box bus's own messages (`sbInbox`) and an
 * application's pass by untouched.
 * @module
 */
import { type InboxPort, listenOnPort } from './inbox-messages.js';
import {
  MemoryUserGroupState,
  MemoryUserGroupStore,
  type UserGroupMemberships,
  type UserGroupStore,
} from './user-group-store.js';

/** The store operations a worker may run in the primary. */
const OPERATIONS = ['add', 'remove', 'removeAll', 'groups', 'has'] as const;
type Operation = (typeof OPERATIONS)[number];

/** Worker to primary. */
interface UserGroupRequest {
  readonly sbUserGroups: 'call';
  readonly id: number;
  readonly op: Operation;
  readonly args: readonly (string | number)[];
}

/** Primary to worker. */
interface UserGroupReply {
  readonly sbUserGroups: 'reply';
  readonly id: number;
  readonly value?: unknown;
  readonly error?: string;
}

function isMessage(message: unknown): message is UserGroupRequest | UserGroupReply {
  return typeof message === 'object' && message !== null && 'sbUserGroups' in message;
}

/** Options of an {@link InboxUserGroupHost}. */
export interface InboxUserGroupHostOptions {
  /** The memberships (default: a new state). */
  readonly state?: MemoryUserGroupState;
  /** How often expired memberships are dropped from memory. Default 60 000 ms; 0: never. */
  readonly pruneIntervalMs?: number;
}

/**
 * The primary's side: holds the machine's user-group memberships and answers the workers attached
 * to it. One per machine, in the primary.
 *
 * @example
 * ```ts
 * import cluster from 'node:cluster';
 * const userGroups = new InboxUserGroupHost();
 * cluster.on('fork', (worker) => userGroups.attach(worker));
 * ```
 */
export class InboxUserGroupHost {
  /** The store every attached worker reads and writes. */
  readonly store: MemoryUserGroupStore;
  private readonly state: MemoryUserGroupState;
  private readonly pruner: ReturnType<typeof setInterval> | undefined;

  constructor(options: InboxUserGroupHostOptions = {}) {
    this.state = options.state ?? new MemoryUserGroupState();
    this.store = new MemoryUserGroupStore(this.state);
    const every = options.pruneIntervalMs ?? 60_000;
    if (every > 0) {
      this.pruner = setInterval(() => this.prune(), every);
      this.pruner.unref();
    }
  }

  /**
   * Answers a process's requests (a cluster `Worker`, a `ChildProcess`) until it disconnects;
   * returns a function that detaches it earlier.
   */
  attach(port: InboxPort): () => void {
    return listenOnPort(port, (message) => {
      if (isMessage(message) && message.sbUserGroups === 'call') void this.answer(port, message);
    });
  }

  /** Drops the expired memberships (reading a user's groups drops that user's). */
  prune(now = Date.now()): void {
    for (const [scope, users] of this.state.scopes) {
      for (const [user, groups] of users) {
        for (const [group, expiresAt] of groups) if (expiresAt <= now) groups.delete(group);
        if (groups.size === 0) users.delete(user);
      }
      if (users.size === 0) this.state.scopes.delete(scope);
    }
  }

  /** Stops the pruning timer. */
  close(): void {
    if (this.pruner) clearInterval(this.pruner);
  }

  private async answer(port: InboxPort, request: UserGroupRequest): Promise<void> {
    let reply: UserGroupReply;
    try {
      if (!OPERATIONS.includes(request.op)) throw new Error(`unknown operation '${String(request.op)}'`);
      const [scope, user, group, expiresAt] = request.args as [string, string, string?, number?];
      let value: unknown;
      switch (request.op) {
        case 'add':
          value = await this.store.add(scope, user, group!, expiresAt!);
          break;
        case 'remove':
          value = await this.store.remove(scope, user, group!);
          break;
        case 'removeAll':
          value = await this.store.removeAll(scope, user);
          break;
        case 'groups':
          // Entries, not a Map: they cross a `json` channel as well as an `advanced` one.
          value = [...(await this.store.groups(scope, user, request.args[2] as number | undefined))];
          break;
        case 'has':
          value = await this.store.has(scope, user, group!, request.args[3] as number | undefined);
          break;
      }
      reply = { sbUserGroups: 'reply', id: request.id, ...(value !== undefined ? { value } : {}) };
    } catch (error) {
      reply = {
        sbUserGroups: 'reply',
        id: request.id,
        error: error instanceof Error ? error.message : String(error),
      };
    }
    try {
      port.send?.(reply as never);
    } catch {
      // The worker is gone; it has no one to tell.
    }
  }
}

/** Request ids, unique in the process: the stores of one channel tell their answers apart. */
let nextRequestId = 1;

/** A pending request's settlement. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * A worker's side: a {@link UserGroupStore} whose memberships live in the primary's
 * {@link InboxUserGroupHost}, so that every worker of the machine reads the same.
 *
 * @example
 * ```ts
 * // in a cluster worker whose primary runs an InboxUserGroupHost
 * const store = new InboxUserGroupStore();
 * await store.add('chat', 'alice', 'admins', Date.now() + 60_000);
 * ```
 */
export class InboxUserGroupStore implements UserGroupStore {
  readonly backend = 'inbox';
  private readonly pending = new Map<number, Pending>();
  private up: boolean;
  private readonly onMessage = (message: unknown) => {
    if (!isMessage(message) || message.sbUserGroups !== 'reply') return;
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) pending.reject(new Error(`In-box user groups: ${message.error}`));
    else pending.resolve(message.value);
  };
  private readonly onDisconnect = () => this.down('the channel to the primary process closed');

  /** `port`: the channel to the primary (default `process`, a cluster worker's). */
  constructor(private readonly port: InboxPort = process as unknown as InboxPort) {
    this.up = typeof port.send === 'function';
  }

  async start(): Promise<void> {
    this.port.on('message', this.onMessage);
    this.port.on('disconnect', this.onDisconnect);
  }

  async add(scope: string, user: string, group: string, expiresAt: number): Promise<void> {
    await this.call('add', [scope, user, group, expiresAt]);
  }

  async remove(scope: string, user: string, group: string): Promise<boolean> {
    return (await this.call('remove', [scope, user, group])) === true;
  }

  async removeAll(scope: string, user: string): Promise<void> {
    await this.call('removeAll', [scope, user]);
  }

  async groups(scope: string, user: string, now = Date.now()): Promise<UserGroupMemberships> {
    const entries = (await this.call('groups', [scope, user, now])) as [string, number][];
    return new Map(entries);
  }

  async has(scope: string, user: string, group: string, now = Date.now()): Promise<boolean> {
    return (await this.call('has', [scope, user, group, now])) === true;
  }

  async close(): Promise<void> {
    this.port.off('message', this.onMessage);
    this.port.off('disconnect', this.onDisconnect);
    this.down('the store is closed');
  }

  private call(op: Operation, args: readonly (string | number)[]): Promise<unknown> {
    if (!this.up)
      return Promise.reject(new Error('In-box user groups: the channel to the primary is closed'));
    const id = nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.port.send?.({ sbUserGroups: 'call', id, op, args } satisfies UserGroupRequest as never);
      } catch (error) {
        this.pending.delete(id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private down(reason: string): void {
    this.up = false;
    const error = new Error(`In-box user groups: ${reason}`);
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
