/**
 * {@link DocumentPresenceBackend}: presence for a backend whose one atomic operation is "write this
 * document if it is still at that revision" (NATS key-value). The cluster's presence is one
 * document; an operation reads it (the last one this node saw, or the backend's after a conflict),
 * restores the in-memory presence network from it ({@link LoopbackPresenceNetwork}: the same
 * transition rules as every other backend's), runs the operation, and writes the new document by
 * revision. When another node wrote in between, the backend refuses and the operation runs again
 * on the newer document, so two nodes never both decide a transition. The document carries the
 * lease of every node, the connections with their groups, the online users, the offlines waiting
 * out their grace and the event log (written in the same step as the transition). Every node
 * watches the document and hands the events it has not seen to the core; changes to another
 * node's connections go to that node through the backend. The backend writes only a
 * {@link PresenceDocumentStore}.
 *
 * Time is the deciding node's clock: keep the nodes' clocks in step (NTP) to well within the
 * grace period and the lease. The document grows with the cluster's connections.
 * @module
 */
import type { PresenceConnection } from '../presence/presence-store.js';
import { reportPresenceError } from './adapter-kit.js';
import { label } from './channel-sequencer.js';
import {
  type LoopbackPresenceSnapshot as PresenceSnapshot,
  LoopbackPresenceNetwork as PresenceStateMachine,
} from './loopback-presence.js';
import type {
  LeaseResult,
  PresenceAssertion,
  PresenceBackend,
  PresenceBackendContext,
  PresenceLogEvent,
  RemotePresenceChange,
  TransitionResult,
} from './presence-backend.js';

/** One revision of the presence document. */
export interface PresenceDocument {
  /** The backend's revision of it (higher is newer). */
  readonly revision: number;
  /** The document's text (JSON of the presence network's snapshot). */
  readonly text: string;
}

/** What a {@link PresenceDocumentStore} hands the {@link DocumentPresenceBackend}. */
export interface PresenceDocumentHandlers {
  /** A revision of the document the backend watched go by. */
  saw(document: PresenceDocument): void;
  /** A change another node made to one of this node's connections. */
  remoteChange(change: RemotePresenceChange): void;
  /** The backend's connection came back after a loss (the core reads what was announced meanwhile). */
  reconnected(): void;
  /** A fault of the watch or of a change message (`what` names it). */
  error(what: string, cause: unknown): void;
}

/** The backend's part of a {@link DocumentPresenceBackend}: one document written by revision. */
export interface PresenceDocumentStore {
  /** The backend's name (`nats`). */
  readonly backend: string;
  /** Connects, starts watching the document and receiving this node's changes. */
  start(handlers: PresenceDocumentHandlers): Promise<void>;
  /** The document as the backend holds it now (undefined: none yet). */
  get(): Promise<PresenceDocument | undefined>;
  /**
   * Writes the document if it is still at `revision` (creates it when `revision` is undefined);
   * resolves with the new revision. Rejects on a lost race ({@link conflict} tells it) or a fault.
   */
  write(text: string, revision: number | undefined): Promise<number>;
  /** Whether a rejection of {@link write} means another node wrote first. */
  conflict(error: unknown): boolean;
  /** Sends a change to the node that holds the connection. */
  send(nodeId: string, change: RemotePresenceChange): void;
  /** Stops watching and receiving (the backend's connection is the owner's to close). */
  close(): Promise<void>;
}

/** How many times an operation runs again after losing the race for the document. */
const MAX_ATTEMPTS = 100;

/** A node's presence over a {@link PresenceDocumentStore} (see the module). */
export class DocumentPresenceBackend implements PresenceBackend {
  readonly backend: string;
  private seen: PresenceDocument | undefined;
  private delivered = { epoch: '', seq: 0 };
  private closed = false;

  constructor(
    private readonly context: PresenceBackendContext,
    private readonly store: PresenceDocumentStore,
    /** How many recent events the document keeps for nodes that missed some. */
    private readonly logLength: number,
  ) {
    this.backend = store.backend;
  }

  start(): Promise<void> {
    const receiver = this.context.receiver;
    return this.store.start({
      saw: (document) => this.saw(document),
      remoteChange: (change) => receiver.remoteChange(change),
      reconnected: () => receiver.reconnected(),
      error: (what, cause) => this.report(what, cause),
    });
  }

  assert(state: PresenceAssertion): Promise<LeaseResult> {
    return this.transact((net) => net.assert(this.context, state));
  }

  heartbeat(): Promise<LeaseResult> {
    return this.transact((net) => net.heartbeat(this.context));
  }

  add(connection: PresenceConnection): Promise<Omit<LeaseResult, 'epoch' | 'head'>> {
    return this.transact((net) => net.add(this.context, connection));
  }

  remove(connectionId: string): Promise<TransitionResult> {
    return this.transact((net) => net.remove(this.context, connectionId));
  }

  async group(connectionId: string, group: string, member: boolean): Promise<void> {
    await this.transact((net) => net.group(this.context, connectionId, group, member));
  }

  leave(): Promise<TransitionResult> {
    return this.transact((net) => net.leave(this.context));
  }

  async readEvents(epoch: string, after: number, upTo: number): Promise<readonly PresenceLogEvent[]> {
    return (await this.read()).readEvents(epoch, after, upTo);
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.read()).query().isOnline(userId);
  }

  async onlineUsers(): Promise<string[]> {
    return (await this.read()).query().onlineUsers();
  }

  async userConnections(userId: string): Promise<PresenceConnection[]> {
    return (await this.read()).query().userConnections(userId);
  }

  async groupConnectionCount(group: string): Promise<number> {
    return (await this.read()).query().groupConnectionCount(group);
  }

  async groupConnections(group: string): Promise<PresenceConnection[]> {
    return (await this.read()).query().groupConnections(group);
  }

  async groupUsers(group: string): Promise<string[]> {
    return (await this.read()).query().groupUsers(group);
  }

  async groupUserCount(group: string): Promise<number> {
    return (await this.read()).query().groupUserCount(group);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.close();
  }

  /** The document as the backend holds it now (undefined: none yet). */
  private async fetch(): Promise<PresenceDocument | undefined> {
    const document = await this.store.get();
    if (document) this.saw(document);
    return document;
  }

  /** A network restored from the backend's document, for a query. */
  private async read(): Promise<PresenceStateMachine> {
    return this.network(await this.fetch(), () => {});
  }

  private network(
    seen: PresenceDocument | undefined,
    onControl: (nodeId: string, change: RemotePresenceChange) => void,
  ): PresenceStateMachine {
    const options = { logLength: this.logLength, onControl };
    return seen
      ? PresenceStateMachine.restore(JSON.parse(seen.text) as PresenceSnapshot, options)
      : new PresenceStateMachine(options);
  }

  /** Runs `op` on the document and writes the result by revision; again on a lost race. */
  private async transact<T>(op: (net: PresenceStateMachine) => T): Promise<T> {
    if (this.closed) throw new Error(`${label(this.backend)}: the presence backend is closed`);
    let base = this.seen;
    for (let attempt = 1; ; attempt++) {
      // The first try runs on the last document seen (usually the newest); a lost race, or a
      // result to confirm, runs on the backend's.
      const fresh = attempt > 1 || base === undefined;
      if (fresh) base = await this.fetch();
      const controls: [string, RemotePresenceChange][] = [];
      const net = this.network(base, (nodeId, change) => controls.push([nodeId, change]));
      const result = op(net);
      const text = JSON.stringify(net.snapshot());
      if (base !== undefined && text === base.text) {
        // Nothing to write. On a document seen earlier that may only mean it is behind (a
        // connection another node just added is not in it yet): decide again on the backend's.
        if (fresh) return result;
        continue;
      }
      let revision: number;
      try {
        revision = await this.store.write(text, base?.revision);
      } catch (error) {
        if (this.store.conflict(error) && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
      this.saw({ revision, text });
      for (const [nodeId, change] of controls) this.store.send(nodeId, change);
      return result;
    }
  }

  /** Keeps the newest document seen, and hands the core the events it has not had. */
  private saw(seen: PresenceDocument): void {
    if (this.seen && seen.revision <= this.seen.revision) return;
    this.seen = seen;
    if (this.closed) return;
    const snapshot = JSON.parse(seen.text) as PresenceSnapshot;
    const from = snapshot.epoch === this.delivered.epoch ? this.delivered.seq : 0;
    const events = snapshot.log.filter((e) => e.s > from);
    this.delivered = { epoch: snapshot.epoch, seq: snapshot.seq };
    if (events.length > 0) this.context.receiver.events(events);
  }

  private report(what: string, cause: unknown): void {
    if (!this.closed) reportPresenceError(this.context, this.backend, what, cause);
  }
}
