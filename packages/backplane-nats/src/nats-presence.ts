/**
 * The {@link PresenceBackend} over NATS JetStream key-value (nats-server 2.9 or later): the
 * cluster's presence is one document in a bucket of its own, and every operation is a
 * compare-and-set of that document by revision.
 *
 * An operation reads the document (the last one this node saw, or the server's after a conflict),
 * restores the core's in-memory presence network from it (`PresenceStateMachine.restore`: the
 * same transition rules as every other backend's), runs the operation, and writes the new document
 * with `update(key, value, revision)`. When another node wrote in between, the server refuses
 * (`wrong last sequence`) and the operation runs again on the newer document, so two nodes never
 * both decide a transition. The document carries the lease of every node (renewed by its
 * heartbeat; one that ran out is swept by the next heartbeat of a live node), the connections with
 * their groups, the online users, the offlines waiting out their grace, and the event log (the
 * last `eventLogLength` events, numbered with no gap within an epoch): the event is written in the
 * same step as the transition. Every node watches the entry and hands the events it has not seen
 * to the core; changes to another node's connections go to that node on core NATS.
 *
 * Time is the deciding node's clock: keep the nodes' clocks in step (NTP) to well within the
 * grace period and the lease. The document grows with the cluster's connections (NATS refuses a
 * message over the server's `max_payload`, 1 MB by default: some thousands of connections).
 * @module
 */
import { StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { Subscription } from '@nats-io/transport-node';
import type { PresenceConnection } from '@switchboard/server';
import {
  type LeaseResult,
  type PresenceAssertion,
  type PresenceBackend,
  type PresenceBackendContext,
  type PresenceLogEvent,
  type PresenceSnapshot,
  PresenceStateMachine,
  type RemotePresenceChange,
  reportPresenceError,
  type TransitionResult,
} from '@switchboard/server/scaleout';
import type { NatsLink } from './link.js';
import { safeName, token } from './names.js';

/** Options of a {@link NatsPresenceBackend} (the backplane's). */
export interface NatsPresenceOptions {
  /** The cluster's prefix. */
  readonly prefix: string;
  /** How many recent events the document keeps for nodes that missed some. Default 256. */
  readonly eventLogLength?: number;
  /** `file` (survives a server restart; the default) or `memory`. */
  readonly storage: 'file' | 'memory';
}

/** The key of the presence document in the bucket. */
const KEY = 'state';

/** How many times an operation runs again after losing the race for the document. */
const MAX_ATTEMPTS = 100;

interface Seen {
  readonly revision: number;
  readonly text: string;
}

/** One node's presence backend on NATS key-value. */
export class NatsPresenceBackend implements PresenceBackend {
  readonly backend = 'nats';
  private kv: KV | undefined;
  private seen: Seen | undefined;
  private delivered = { epoch: '', seq: 0 };
  private control: Subscription | undefined;
  private watcher: { stop(): void } | undefined;
  private unlisten: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly link: NatsLink,
    private readonly context: PresenceBackendContext,
    private readonly options: NatsPresenceOptions,
  ) {}

  /** The bucket's name on the server (for tests and operators). */
  get bucket(): string {
    return safeName('sbp', this.options.prefix);
  }

  async start(): Promise<void> {
    const nc = await this.link.connection;
    await this.link.whenUp();
    this.control = nc.subscribe(this.controlSubject(this.context.nodeId), {
      callback: (_error, msg) => {
        try {
          this.context.receiver.remoteChange(msg.json<RemotePresenceChange>());
        } catch (error) {
          this.report('reading a change from another node', error);
        }
      },
    });
    const kv = await this.open();
    const watch = await kv.watch({ key: KEY });
    this.watcher = watch;
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT') this.saw({ revision: entry.revision, text: entry.string() });
      }
    })().catch((error: unknown) => this.report('watching the document', error));
    this.unlisten = this.link.listen({ reconnected: () => this.context.receiver.reconnected() });
    await nc.flush();
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
    this.unlisten?.();
    this.watcher?.stop();
    this.control?.unsubscribe();
  }

  /** Opens (creating it when missing) the bucket. */
  private async open(): Promise<KV> {
    this.kv ??= await new Kvm(this.link.jetstream).create(this.bucket, {
      history: 1,
      storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    });
    return this.kv;
  }

  /** The document as the server holds it now (undefined: none yet). */
  private async fetch(): Promise<Seen | undefined> {
    const entry = await (await this.open()).get(KEY);
    if (!entry || entry.operation !== 'PUT') return undefined;
    const seen = { revision: entry.revision, text: entry.string() };
    this.saw(seen);
    return seen;
  }

  /** A network restored from the server's document, for a query. */
  private async read(): Promise<PresenceStateMachine> {
    return this.network(await this.fetch(), () => {});
  }

  private network(
    seen: Seen | undefined,
    onControl: (nodeId: string, change: RemotePresenceChange) => void,
  ): PresenceStateMachine {
    const options = { logLength: this.options.eventLogLength ?? 256, onControl };
    return seen
      ? PresenceStateMachine.restore(JSON.parse(seen.text) as PresenceSnapshot, options)
      : new PresenceStateMachine(options);
  }

  /** Runs `op` on the document and writes the result by revision; again on a lost race. */
  private async transact<T>(op: (net: PresenceStateMachine) => T): Promise<T> {
    if (this.closed) throw new Error('NATS: the presence backend is closed');
    const kv = await this.open();
    let base = this.seen;
    for (let attempt = 1; ; attempt++) {
      // The first try runs on the last document seen (usually the newest); a lost race, or a
      // result to confirm, runs on the server's.
      const fresh = attempt > 1 || base === undefined;
      if (fresh) base = await this.fetch();
      const controls: [string, RemotePresenceChange][] = [];
      const net = this.network(base, (nodeId, change) => controls.push([nodeId, change]));
      const result = op(net);
      const text = JSON.stringify(net.snapshot());
      if (base !== undefined && text === base.text) {
        // Nothing to write. On a document seen earlier that may only mean it is behind (a
        // connection another node just added is not in it yet): decide again on the server's.
        if (fresh) return result;
        continue;
      }
      let revision: number;
      try {
        revision = base ? await kv.update(KEY, text, base.revision) : await kv.create(KEY, text);
      } catch (error) {
        if (/wrong last sequence/i.test(String((error as Error)?.message)) && attempt < MAX_ATTEMPTS)
          continue;
        throw error;
      }
      this.saw({ revision, text });
      const nc = this.link.nats;
      for (const [nodeId, change] of controls)
        nc.publish(this.controlSubject(nodeId), JSON.stringify(change));
      return result;
    }
  }

  /** Keeps the newest document seen, and hands the core the events it has not had. */
  private saw(seen: Seen): void {
    if (this.seen && seen.revision <= this.seen.revision) return;
    this.seen = seen;
    if (this.closed) return;
    const snapshot = JSON.parse(seen.text) as PresenceSnapshot;
    const from = snapshot.epoch === this.delivered.epoch ? this.delivered.seq : 0;
    const events = snapshot.log.filter((e) => e.s > from);
    this.delivered = { epoch: snapshot.epoch, seq: snapshot.seq };
    if (events.length > 0) this.context.receiver.events(events);
  }

  private controlSubject(nodeId: string): string {
    return `_sbpresence.${this.bucket}.${token(nodeId)}`;
  }

  private report(what: string, cause: unknown): void {
    if (!this.closed) reportPresenceError(this.context, 'nats', what, cause);
  }
}
