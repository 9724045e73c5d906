/**
 * The support desk. A customer (a guest or any non-agent user) opens a request: it lands in a queue
 * every agent sees live, and the customer's support room (one per customer, so a returning
 * customer continues the same conversation and each new agent sees the earlier history). Exactly
 * one agent claims a request (one conditional update), within their capacity; transfer and close
 * notify both sides.
 * @module
 */
import { ChatError, forbidden, notFound } from '../errors.js';
import type { AgentInfo, Message, SupportRequest } from '../types.js';

export type { AgentInfo } from '../types.js';

import type { MessageService } from './messages.js';
import { type Actor, isAgent, type ServiceDeps } from './ports.js';
import type { RoomService } from './rooms.js';
import { id, object, string } from './validate.js';

/** The support desk. */
export class SupportService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly rooms: RoomService,
    private readonly messages: MessageService,
  ) {}

  /**
   * Opens a request with a first message, or, when the customer has one open or assigned,
   * continues it with this message.
   */
  async openSupportRequest(actor: Actor, args: unknown): Promise<SupportRequest & { message: Message }> {
    if (isAgent(actor)) throw forbidden('Agents do not open support requests.');
    const input = object(args, 'request');
    const subject = string(input, 'subject', { max: 200, trim: true });
    string(input, 'text', { max: this.deps.limits.maxMessageLength });
    const { storage, notifier } = this.deps;
    let room = await storage.supportRoomOf(actor.id);
    if (!room) {
      room = await storage.createRoom(
        {
          id: this.deps.newId(),
          name: `Support: ${actor.displayName}`.slice(0, 200),
          isPrivate: true,
          kind: 'support',
          ownerId: actor.id,
          createdAt: this.deps.now(),
        },
        [actor.id],
      );
      await this.rooms.joined(room, actor.id, false);
    }
    let request = await storage.activeSupportRequestOf(actor.id);
    const isNew = !request;
    if (!request) {
      request = await storage.createSupportRequest({
        id: this.deps.newId(),
        customerId: actor.id,
        roomId: room.id,
        subject,
        createdAt: this.deps.now(),
      });
    }
    const message = await this.messages.post(actor, room, String(input.text), this.deps.newId());
    if (isNew) {
      await notifier.toAgents('supportQueueUpdated', { request });
      await notifier.toUsers([actor.id], 'supportRequestUpdated', { request });
    }
    return { ...request, message };
  }

  /** Open and assigned requests (agents). */
  async listSupportQueue(actor: Actor): Promise<SupportRequest[]> {
    this.requireAgent(actor);
    return this.deps.storage.supportQueue();
  }

  /** Every agent with whether they are online and their load (agents). */
  async listAgents(actor: Actor): Promise<AgentInfo[]> {
    this.requireAgent(actor);
    const agents = await this.deps.storage.agents();
    const result: AgentInfo[] = [];
    for (const agent of agents) {
      result.push({
        ...agent,
        online: await this.deps.notifier.isOnline(agent.id),
        assigned: await this.deps.storage.assignedCount(agent.id),
        capacity: this.deps.limits.agentCapacity,
      });
    }
    return result;
  }

  /** Takes an open request: exactly one of several agents clicking at once wins. */
  async claimSupportRequest(actor: Actor, requestId: unknown): Promise<SupportRequest> {
    this.requireAgent(actor);
    const request = await this.request(requestId);
    const { storage, limits } = this.deps;
    if (!(await storage.claimSupportRequest(request.id, actor.id, limits.agentCapacity, this.deps.now()))) {
      throw await this.whyNot(request.id, 'open');
    }
    const claimed = (await storage.supportRequestById(request.id))!;
    await this.addAgent(claimed, actor.id);
    await this.announce(claimed, [claimed.customerId, actor.id]);
    return claimed;
  }

  /** Hands an assigned request to another agent (its agent or an admin). */
  async transferSupportRequest(actor: Actor, requestId: unknown, agentId: unknown): Promise<SupportRequest> {
    this.requireAgent(actor);
    const request = await this.request(requestId);
    const to = id(agentId, 'agentId');
    if (request.status !== 'assigned' || !request.agentId) {
      throw new ChatError('SB_CHAT_ALREADY_CLAIMED', 'Only an assigned request can be transferred.');
    }
    if (request.agentId !== actor.id && actor.role !== 'admin') {
      throw forbidden('Only the assigned agent or an admin transfers a request.');
    }
    const target = await this.deps.storage.userById(to);
    if (!target || target.role !== 'agent') throw notFound('No such agent.');
    const from = request.agentId;
    const { storage, limits } = this.deps;
    if (
      !(await storage.transferSupportRequest(request.id, from, to, limits.agentCapacity, this.deps.now()))
    ) {
      throw await this.whyNot(request.id, 'assigned', from);
    }
    const moved = (await storage.supportRequestById(request.id))!;
    await this.addAgent(moved, to);
    await this.removeAgent(moved, from);
    await this.announce(moved, [moved.customerId, from, to]);
    return moved;
  }

  /** Closes a request (its agent or an admin; any agent for an unclaimed one). */
  async closeSupportRequest(actor: Actor, requestId: unknown): Promise<SupportRequest> {
    this.requireAgent(actor);
    const request = await this.request(requestId);
    if (request.status === 'closed') return request;
    if (request.status === 'assigned' && request.agentId !== actor.id && actor.role !== 'admin') {
      throw forbidden('Only the assigned agent or an admin closes this request.');
    }
    await this.deps.storage.closeSupportRequest(request.id, this.deps.now());
    const closed = (await this.deps.storage.supportRequestById(request.id))!;
    if (request.agentId) await this.removeAgent(closed, request.agentId);
    await this.announce(closed, [closed.customerId, ...(request.agentId ? [request.agentId] : [])]);
    return closed;
  }

  /**
   * An agent went offline (after the presence grace period, once cluster-wide): their claimed
   * requests go back to the queue, each with `supportQueueUpdated` to the agents and
   * `supportRequestUpdated` to the customer. Returns the requeued requests.
   */
  async agentOffline(agentId: string): Promise<SupportRequest[]> {
    const { storage } = this.deps;
    const mine = (await storage.supportQueue()).filter(
      (r) => r.status === 'assigned' && r.agentId === agentId,
    );
    const requeued: SupportRequest[] = [];
    for (const request of mine) {
      if (!(await storage.requeueSupportRequest(request.id, agentId, this.deps.now()))) continue;
      const open = (await storage.supportRequestById(request.id))!;
      await this.removeAgent(open, agentId);
      await this.announce(open, [open.customerId]);
      requeued.push(open);
    }
    return requeued;
  }

  private requireAgent(actor: Actor): void {
    if (!isAgent(actor)) throw forbidden('Only agents use the support queue.');
  }

  private async request(requestId: unknown): Promise<SupportRequest> {
    const request = await this.deps.storage.supportRequestById(id(requestId, 'requestId'));
    if (!request) throw notFound('No such support request.');
    return request;
  }

  /** Why a conditional update matched nothing: the request moved on, or the agent is full. */
  private async whyNot(
    requestId: string,
    expected: 'open' | 'assigned',
    agentId?: string,
  ): Promise<ChatError> {
    const now = await this.deps.storage.supportRequestById(requestId);
    if (!now || now.status !== expected || (agentId !== undefined && now.agentId !== agentId)) {
      return new ChatError('SB_CHAT_ALREADY_CLAIMED', 'This request was taken or changed by someone else.');
    }
    return new ChatError(
      'SB_CHAT_AGENT_AT_CAPACITY',
      `An agent handles at most ${this.deps.limits.agentCapacity} requests at once.`,
    );
  }

  private async addAgent(request: SupportRequest, agentId: string): Promise<void> {
    const room = (await this.deps.storage.roomById(request.roomId))!;
    if (await this.deps.storage.addMember(room.id, agentId, this.deps.now())) {
      await this.rooms.joined(room, agentId);
    }
  }

  private async removeAgent(request: SupportRequest, agentId: string): Promise<void> {
    const room = (await this.deps.storage.roomById(request.roomId))!;
    if (agentId !== request.customerId) await this.rooms.remove(room, agentId, 'removed');
  }

  private async announce(request: SupportRequest, userIds: string[]): Promise<void> {
    await this.deps.notifier.toAgents('supportQueueUpdated', { request });
    await this.deps.notifier.toUsers([...new Set(userIds)], 'supportRequestUpdated', { request });
  }
}
