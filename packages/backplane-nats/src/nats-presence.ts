/**
 * The presence backend over NATS JetStream key-value (nats-server 2.9 or later): the core's
 * `DocumentPresenceBackend` (the cluster's presence as one document, every operation a
 * compare-and-set of it by revision) over a bucket of its own. This module is the bucket: the
 * document under one key, written with `update(key, value, revision)` (the server refuses with
 * `wrong last sequence` when another node wrote in between), watched by every node; and the
 * changes to another node's connections, sent to that node on core NATS.
 *
 * Time is the deciding node's clock: keep the nodes' clocks in step (NTP) to well within the
 * grace period and the lease. The document grows with the cluster's connections (NATS refuses a
 * message over the server's `max_payload`, 1 MB by default: some thousands of connections).
 * @module
 */
import { StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { Subscription } from '@nats-io/transport-node';
import {
  DocumentPresenceBackend,
  type PresenceBackendContext,
  type PresenceDocument,
  type PresenceDocumentHandlers,
  type PresenceDocumentStore,
  type RemotePresenceChange,
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

/** One node's presence backend on NATS key-value. */
export class NatsPresenceBackend extends DocumentPresenceBackend {
  /** The bucket's name on the server (for tests and operators). */
  readonly bucket: string;

  constructor(link: NatsLink, context: PresenceBackendContext, options: NatsPresenceOptions) {
    const bucket = safeName('sbp', options.prefix);
    super(
      context,
      new NatsPresenceDocument(link, context.nodeId, bucket, options.storage),
      options.eventLogLength ?? 256,
    );
    this.bucket = bucket;
  }
}

/** The presence document in its bucket, and the change messages between nodes. */
class NatsPresenceDocument implements PresenceDocumentStore {
  readonly backend = 'nats';
  private kv: KV | undefined;
  private control: Subscription | undefined;
  private watcher: { stop(): void } | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly link: NatsLink,
    private readonly nodeId: string,
    private readonly bucket: string,
    private readonly storage: 'file' | 'memory',
  ) {}

  async start(handlers: PresenceDocumentHandlers): Promise<void> {
    const nc = await this.link.connection;
    await this.link.whenUp();
    this.control = nc.subscribe(this.controlSubject(this.nodeId), {
      callback: (_error, msg) => {
        try {
          handlers.remoteChange(msg.json<RemotePresenceChange>());
        } catch (error) {
          handlers.error('reading a change from another node', error);
        }
      },
    });
    const watch = await (await this.open()).watch({ key: KEY });
    this.watcher = watch;
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT') handlers.saw({ revision: entry.revision, text: entry.string() });
      }
    })().catch((error: unknown) => handlers.error('watching the document', error));
    this.unlisten = this.link.listen({ reconnected: () => handlers.reconnected() });
    await nc.flush();
  }

  async get(): Promise<PresenceDocument | undefined> {
    const entry = await (await this.open()).get(KEY);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { revision: entry.revision, text: entry.string() };
  }

  async write(text: string, revision: number | undefined): Promise<number> {
    const kv = await this.open();
    return revision === undefined ? kv.create(KEY, text) : kv.update(KEY, text, revision);
  }

  conflict(error: unknown): boolean {
    return /wrong last sequence/i.test(String((error as Error)?.message));
  }

  send(nodeId: string, change: RemotePresenceChange): void {
    this.link.nats.publish(this.controlSubject(nodeId), JSON.stringify(change));
  }

  async close(): Promise<void> {
    this.unlisten?.();
    this.watcher?.stop();
    this.control?.unsubscribe();
  }

  /** Opens (creating it when missing) the bucket. */
  private async open(): Promise<KV> {
    this.kv ??= await new Kvm(this.link.jetstream).create(this.bucket, {
      history: 1,
      storage: this.storage === 'memory' ? StorageType.Memory : StorageType.File,
    });
    return this.kv;
  }

  private controlSubject(nodeId: string): string {
    return `_sbpresence.${this.bucket}.${token(nodeId)}`;
  }
}
