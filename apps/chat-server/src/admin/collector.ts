/**
 * Gathers every node's snapshot through the backplane itself. Each node keeps one collector in its
 * hub lifetime manager (a `HubConnectionRef` without a client, like the lag probe) in the group
 * `ADMIN_STATS_GROUP`. A gather sends that group a request; every other node's collector answers
 * with its snapshot, sent to the same group; the gathering node waits until every node it has
 * heard of lately answered, or a timeout. The request and the answers travel in the invocation's
 * target (as the lag probe's do): an invocation that crosses a backplane reaches a connection
 * reference as bytes framed for each protocol, and the target is what every node reads back.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { AdminNodeStats } from '@switchboard/chat-contract';
import type { HubConnectionRef, HubLifetimeManager, Logger, SerializedHubMessage } from '@switchboard/server';

/** The group every node's collector is in. */
export const ADMIN_STATS_GROUP = 'switchboard:admin-stats';
const REQUEST = 'switchboard.adminStats.request|';
const REPLY = 'switchboard.adminStats.node|';

/** Options of {@link AdminStatsCollector}. */
export interface CollectorOptions {
  /** How long a gather waits for the nodes it expects. Default 1,000 ms. */
  readonly timeoutMs?: number;
  /** A node not heard of for this long is no longer waited for. Default 30,000 ms. */
  readonly forgetAfterMs?: number;
  /** The clock (ms since the epoch). */
  readonly now?: () => number;
}

interface Gather {
  readonly replies: Map<string, AdminNodeStats>;
  readonly expected: ReadonlySet<string>;
  readonly done: () => void;
}

/** Answers other nodes' requests with this node's snapshot, and gathers theirs. */
export class AdminStatsCollector {
  private readonly ref: HubConnectionRef;
  /** When each other node was last heard of (a request or an answer), by node id. */
  private readonly heard = new Map<string, number>();
  private readonly gathers = new Map<string, Gather>();
  private readonly timeoutMs: number;
  private readonly forgetAfterMs: number;
  private readonly now: () => number;

  constructor(
    private readonly manager: HubLifetimeManager,
    private readonly nodeId: string,
    private readonly snapshot: () => AdminNodeStats,
    private readonly logger: Logger,
    options: CollectorOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 1_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.ref = {
      connectionId: `admin-stats-${randomUUID()}`,
      userIdentifier: undefined,
      writeMessage: (message) => this.receive(message),
      close: () => undefined,
    };
  }

  /** Joins the group and asks once, so that the nodes already running learn of this one (and it of them). */
  async start(): Promise<void> {
    await this.manager.onConnected(this.ref);
    await this.manager.addToGroup(this.ref.connectionId, ADMIN_STATS_GROUP);
    this.send(`${REQUEST}${randomUUID()}|${this.nodeId}`);
  }

  /** Leaves the lifetime manager (before it closes); pending gathers end with what they have. */
  async stop(): Promise<void> {
    for (const gather of this.gathers.values()) gather.done();
    await this.manager.onDisconnected(this.ref).catch(() => undefined);
  }

  /** The other nodes heard of lately. */
  knownNodes(): string[] {
    const since = this.now() - this.forgetAfterMs;
    return [...this.heard].filter(([, at]) => at >= since).map(([id]) => id);
  }

  /**
   * Every node's snapshot, this node's first and the others by node id: it waits for the nodes
   * heard of lately (up to the timeout); a node that answers late, or was never heard of, still
   * answers and is waited for the next time.
   */
  gather(timeoutMs = this.timeoutMs): Promise<AdminNodeStats[]> {
    const id = randomUUID();
    const replies = new Map<string, AdminNodeStats>();
    const expected = new Set(this.knownNodes());
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.gathers.delete(id);
        const others = [...replies.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
        resolve([this.snapshot(), ...others]);
      };
      this.gathers.set(id, { replies, expected, done });
      if (expected.size === 0) {
        // Alone as far as it knows: ask anyway (a new node answers for next time), answer now.
        this.send(`${REQUEST}${id}|${this.nodeId}`);
        done();
        return;
      }
      timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.send(`${REQUEST}${id}|${this.nodeId}`);
    });
  }

  private send(target: string): void {
    this.manager.sendGroup(ADMIN_STATS_GROUP, target, []).catch((error: unknown) => {
      this.logger.debug('chat.admin_stats.send_failed', { error });
    });
  }

  private receive(serialized: SerializedHubMessage): void {
    const target = (serialized.message as { target?: unknown }).target;
    if (typeof target !== 'string') return;
    if (target.startsWith(REQUEST)) {
      const rest = target.slice(REQUEST.length);
      const bar = rest.indexOf('|');
      const origin = rest.slice(bar + 1);
      // Its own request comes back locally: nothing to answer.
      if (bar < 0 || origin === this.nodeId) return;
      this.heard.set(origin, this.now());
      let stats: AdminNodeStats;
      try {
        stats = this.snapshot();
      } catch (error) {
        this.logger.warn('chat.admin_stats.snapshot_failed', { error });
        return;
      }
      this.send(`${REPLY}${rest.slice(0, bar)}|${JSON.stringify(stats)}`);
      return;
    }
    if (!target.startsWith(REPLY)) return;
    const rest = target.slice(REPLY.length);
    const bar = rest.indexOf('|');
    if (bar < 0) return;
    let stats: AdminNodeStats;
    try {
      stats = JSON.parse(rest.slice(bar + 1)) as AdminNodeStats;
    } catch {
      return;
    }
    if (typeof stats?.nodeId !== 'string' || stats.nodeId === this.nodeId) return;
    this.heard.set(stats.nodeId, this.now());
    const gather = this.gathers.get(rest.slice(0, bar));
    if (!gather) return;
    gather.replies.set(stats.nodeId, stats);
    if ([...gather.expected].every((node) => gather.replies.has(node))) gather.done();
  }
}
