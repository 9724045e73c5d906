/**
 * The live admin view's service: the cluster's numbers (every node's snapshot through the
 * {@link AdminStatsCollector}, users online and rooms from presence and storage), the admin-only
 * `watchAdminStats` / `unwatchAdminStats`, and the push: while an admin watches on this node, every
 * `intervalMs` the node puts the cluster's numbers together and sends them (`adminStats`) to its
 * own watching connections. Nothing runs but a presence count while nobody watches.
 * @module
 */
import type { AdminRoomStats, AdminStats, Role } from '@switchboard/chat-contract';
import type { HubContext, Logger } from '@switchboard/server';
import { ChatError } from '../errors.js';
import { roomGroup } from '../hub/hub-notifier.js';
import type { ChatStorage } from '../storage/storage.js';
import type { AdminStatsCollector } from './collector.js';

/** The group of the connections that watch the admin view (on every node). */
export const ADMIN_WATCH_GROUP = 'admin:stats';
/** The event that carries {@link AdminStats} to watching admins. */
export const ADMIN_STATS_EVENT = 'adminStats';

/** Refuses anyone but an admin with `SB_CHAT_ADMIN_ONLY`. */
export function requireAdmin(user: { readonly role: Role } | undefined): void {
  if (user?.role !== 'admin') throw new ChatError('SB_CHAT_ADMIN_ONLY', 'Only admins see the admin view.');
}

/** What the service needs. */
export interface AdminStatsDeps {
  readonly collector: AdminStatsCollector;
  readonly storage: ChatStorage;
  /** The chat hub's context: presence, groups and clients. */
  readonly hub: HubContext;
  /** This node's id in presence (`hubs.presence.nodeId`): its own watchers are pushed to. */
  readonly presenceNodeId: string;
  /** This node's id as the snapshots name it. */
  readonly nodeId: string;
  readonly logger: Logger;
  /** How often watchers get fresh numbers. Default 1,500 ms. */
  readonly intervalMs?: number;
  /** The most rooms listed. Default 50. */
  readonly roomsLimit?: number;
}

/** The admin view's numbers and their push. */
export class AdminStatsService {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly intervalMs: number;
  private readonly roomsLimit: number;

  constructor(private readonly deps: AdminStatsDeps) {
    this.intervalMs = deps.intervalMs ?? 1_500;
    this.roomsLimit = deps.roomsLimit ?? 50;
  }

  /** The whole cluster, as `GET /api/v1/admin/stats` answers and `adminStats` carries it. */
  async clusterStats(): Promise<AdminStats> {
    const { hub, storage } = this.deps;
    const [nodes, online, counted] = await Promise.all([
      this.deps.collector.gather(),
      hub.presence.onlineUsers(),
      storage.roomMemberCounts(this.roomsLimit),
    ]);
    const rooms = await Promise.all(
      counted.rooms.map(async (room): Promise<AdminRoomStats> => {
        const group = roomGroup(room.id);
        const [connectedMembers, connections] = await Promise.all([
          hub.presence.groupUserCount(group),
          hub.presence.groupConnectionCount(group),
        ]);
        return {
          id: room.id,
          name: room.name,
          kind: room.kind,
          isPrivate: room.isPrivate,
          members: room.members,
          connectedMembers,
          connections,
        };
      }),
    );
    return {
      collectedAt: new Date().toISOString(),
      nodeId: this.deps.nodeId,
      nodes,
      connections: nodes.reduce((n, node) => n + node.connections.total, 0),
      usersOnline: online.length,
      rooms,
      roomsTotal: counted.total,
    };
  }

  /** `watchAdminStats` (admins only): the caller's connection gets `adminStats` from now on; answers the numbers now. */
  async watch(user: { readonly role: Role } | undefined, connectionId: string): Promise<AdminStats> {
    requireAdmin(user);
    await this.deps.hub.groups.add(connectionId, ADMIN_WATCH_GROUP);
    return this.clusterStats();
  }

  /** `unwatchAdminStats` (admins only): no more `adminStats` for the caller's connection. */
  async unwatch(user: { readonly role: Role } | undefined, connectionId: string): Promise<void> {
    requireAdmin(user);
    await this.deps.hub.groups.remove(connectionId, ADMIN_WATCH_GROUP);
  }

  /** Starts the push timer. */
  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops it. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends the numbers to this node's watching connections, if any (one round at a time). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const { hub, presenceNodeId } = this.deps;
      const watchers = (await hub.presence.groupConnections(ADMIN_WATCH_GROUP))
        .filter((c) => c.nodeId === presenceNodeId)
        .map((c) => c.connectionId);
      if (watchers.length === 0) return;
      const stats = await this.clusterStats();
      await hub.clients.clients(watchers).send(ADMIN_STATS_EVENT, stats);
    } catch (error) {
      this.deps.logger.warn('chat.admin_stats.push_failed', { error });
    } finally {
      this.ticking = false;
    }
  }
}
