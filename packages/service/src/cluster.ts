/**
 * The nodes of a service as one: each node registers an agent (a connection of its own, never a
 * client's) with a control hub's lifetime manager, which the backplane gives like any hub's, so
 * that the scale-out core carries the service's commands between nodes with its delivery
 * guarantees (order per sender, no loss within the replay window). A command goes to every node
 * (`sendAll`); each executes it on its own connections ({@link LocalRegistry}) and answers the
 * asking node's agent (`sendConnection`). Without a backplane the control hub is in memory and the
 * node answers itself.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { type HubMessage, jsonHubProtocol, MessageType } from '@switchboard/protocol';
import type { HubConnectionRef, HubLifetimeManager, Logger, SerializedHubMessage } from '@switchboard/server';
import type { ClusterCommand, LocalRegistry } from './registry.js';
import { serviceJsonProtocol } from './upstream-protocol.js';

/** The path of the control hub in the backplane (never mapped for clients). */
export const CONTROL_HUB_PATH = '/_switchboard/control';

/** What nodes say to each other. */
type ControlMessage =
  | { readonly k: 'hello'; readonly from: string }
  | { readonly k: 'here'; readonly from: string }
  | { readonly k: 'bye'; readonly from: string }
  | { readonly k: 'cmd'; readonly from: string; readonly rid: string; readonly cmd: ClusterCommand }
  | { readonly k: 'res'; readonly from: string; readonly rid: string; readonly found: boolean };

interface Pending {
  readonly waiting: Set<string>;
  /** The nodes that answered "found" so far. */
  readonly foundOn: string[];
  readonly done: () => void;
}

/** Options of a {@link Cluster}. */
export interface ClusterOptions {
  /** The control hub's lifetime manager (`backplane.lifetimeManager(CONTROL_HUB_PATH)`). */
  readonly manager: HubLifetimeManager;
  readonly nodeId: string;
  readonly registry: LocalRegistry;
  /** How long a command waits for the nodes it knows. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

const agentId = (nodeId: string) => `switchboard-node.${nodeId}`;

/** Commands across the nodes of a service. */
export class Cluster {
  private readonly peers = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly agent: HubConnectionRef;

  constructor(private readonly options: ClusterOptions) {
    this.peers.add(options.nodeId);
    this.agent = {
      connectionId: agentId(options.nodeId),
      userIdentifier: undefined,
      writeMessage: (message) => {
        // Never inside the manager's send: handle it on the next microtask.
        const decoded = decode(message);
        if (decoded) queueMicrotask(() => void this.receive(decoded));
      },
      close: () => {},
    };
  }

  /** This node's id. */
  get nodeId(): string {
    return this.options.nodeId;
  }

  /** The node ids this node knows of (itself included). */
  get nodes(): readonly string[] {
    return [...this.peers];
  }

  /** Registers the agent and greets the other nodes (they answer, so that it knows them). */
  async start(): Promise<void> {
    await this.options.manager.onConnected(this.agent);
    await this.post({ k: 'hello', from: this.options.nodeId });
  }

  /**
   * Executes `command` on every node and resolves with whether any found (or changed) something.
   * Waits for every known node, at most `timeoutMs`; nodes that do not answer are forgotten until
   * they speak again.
   */
  async request(command: ClusterCommand): Promise<boolean> {
    return (await this.locate(command)).length > 0;
  }

  /**
   * As {@link request}, resolving with the ids of the nodes that found (or changed) something:
   * for an existence check, the nodes that hold it.
   */
  locate(command: ClusterCommand): Promise<string[]> {
    const rid = randomUUID();
    return new Promise<string[]>((resolve) => {
      const timer = setTimeout(() => {
        const entry = this.pending.get(rid);
        if (!entry) return;
        this.pending.delete(rid);
        this.options.logger.warn('service.cluster_timeout', {
          code: 'SB_ERR_SVC_CLUSTER_TIMEOUT',
          op: command.op,
          silent: [...entry.waiting],
        });
        for (const node of entry.waiting) if (node !== this.options.nodeId) this.peers.delete(node);
        resolve(entry.foundOn);
      }, this.options.timeoutMs);
      const foundOn: string[] = [];
      this.pending.set(rid, {
        waiting: new Set(this.peers),
        foundOn,
        done: () => {
          clearTimeout(timer);
          this.pending.delete(rid);
          resolve(foundOn);
        },
      });
      void this.post({ k: 'cmd', from: this.options.nodeId, rid, cmd: command });
    });
  }

  /** Says goodbye and removes the agent. */
  async close(): Promise<void> {
    await this.post({ k: 'bye', from: this.options.nodeId }).catch(() => {});
    for (const entry of [...this.pending.values()]) entry.done();
    await this.options.manager.onDisconnected(this.agent).catch(() => {});
  }

  private async post(message: ControlMessage, to?: string): Promise<void> {
    const payload = [JSON.stringify(message)];
    if (to === undefined) await this.options.manager.sendAll('c', payload);
    else await this.options.manager.sendConnection(agentId(to), 'c', payload);
  }

  private async receive(message: ControlMessage): Promise<void> {
    const me = this.options.nodeId;
    if (message.k === 'bye') {
      this.peers.delete(message.from);
      for (const entry of this.pending.values()) this.answered(entry, message.from, false);
      return;
    }
    this.peers.add(message.from);
    try {
      switch (message.k) {
        case 'hello':
          if (message.from !== me) await this.post({ k: 'here', from: me }, message.from);
          return;
        case 'here':
          return;
        case 'cmd': {
          const found = await this.options.registry.execute(message.cmd);
          await this.post({ k: 'res', from: me, rid: message.rid, found }, message.from);
          return;
        }
        case 'res': {
          const entry = this.pending.get(message.rid);
          if (entry) this.answered(entry, message.from, message.found);
          return;
        }
      }
    } catch (error) {
      this.options.logger.error('service.cluster_command_failed', {
        kind: message.k,
        error: (error as Error).message,
      });
    }
  }

  private answered(entry: Pending, from: string, found: boolean): void {
    if (!entry.waiting.delete(from)) return;
    if (found) entry.foundOn.push(from);
    if (entry.waiting.size === 0) entry.done();
  }
}

/** The control message in a hub message (local: as sent; from another node: from its JSON bytes). */
function decode(message: SerializedHubMessage): ControlMessage | undefined {
  let hubMessage: HubMessage = message.message;
  if (hubMessage.type === MessageType.Invocation && hubMessage.arguments.length === 0) {
    const parsed = jsonHubProtocol.parseMessages(message.getSerialized(serviceJsonProtocol)).messages[0];
    if (parsed) hubMessage = parsed;
  }
  if (hubMessage.type !== MessageType.Invocation || typeof hubMessage.arguments[0] !== 'string')
    return undefined;
  try {
    return JSON.parse(hubMessage.arguments[0]) as ControlMessage;
  } catch {
    return undefined;
  }
}
