/**
 * The `Bus` of one hub on one node over NATS JetStream (nats-server 2.9 or later).
 *
 * - The replay log is one stream per cluster prefix and hub, with a subject per channel
 *   (names.ts) and limits by age and by count per channel. Every publish is a JetStream publish
 *   (stored, then acknowledged), with a message id (`Nats-Msg-Id`) so that a publish retried
 *   after a lost acknowledgement is stored once.
 * - The live path is one ordered push consumer per node and hub over the whole stream, started at
 *   the stream's last sequence when the bus starts. Consumers with several subject filters came
 *   with nats-server 2.10, so on 2.9 a node reads every channel of its hub and keeps only the
 *   channels it subscribes to: subscribing is local and immediate. The consumer sees every
 *   stream sequence in order, so the bus delivers each entry once, in log order, catches up by
 *   itself after a reconnect (the ordered consumer starts again after the last sequence it
 *   delivered), and knows exactly how many entries it lost when the window passed them by (a jump
 *   in the sequence): it has no {@link ReplayLog} for the core to read.
 * - Receivers: the node that holds a connection answers on a core-NATS subject of that
 *   connection; a publish to a connection's channel asks it, so that "no responders" tells the
 *   core, exactly, that no node holds the connection.
 * @module
 */
import { DeliverPolicy, DiscardPolicy, type JsMsg, StorageType } from '@nats-io/jetstream';
import { Empty, headers, NoRespondersError, nanos, type Subscription } from '@nats-io/transport-node';
import {
  type BusContext,
  type BusCounters,
  type BusStatus,
  type Channel,
  channelName,
  OriginOrder,
  QueuedBus,
  type ReplayWindowOptions,
  retryUntil,
  StreamSequence,
  withTimeout,
} from '@switchboard/server/scaleout';
import type { NatsLink } from './link.js';
import {
  channelSubject,
  type HubNames,
  holderSubject,
  hubNames,
  subjectChannelName,
  token,
} from './names.js';

/** Options of a {@link NatsBus} (the backplane's, shared by its hubs). */
export interface NatsBusOptions extends Required<ReplayWindowOptions> {
  /** The cluster's prefix: streams and subjects of other prefixes are never touched. */
  readonly prefix: string;
  /** `file` (survives a server restart; the default) or `memory`. */
  readonly storage: 'file' | 'memory';
  /** How long a publish waits for its acknowledgement before it is sent again. Default 2 000 ms. */
  readonly publishTimeoutMs?: number;
}

interface Item {
  readonly subject: string;
  readonly payload: Uint8Array;
  /** For a connection's channel: the subject its holder answers on. */
  readonly holder: string | undefined;
}

/** The headers that number a bus's publishes (see the core's `OriginOrder`). */
const ORIGIN_HEADER = 'Sb-Origin';
const NUMBER_HEADER = 'Sb-N';

/** The transport of one hub on one node, on a {@link NatsLink} shared with the node's other hubs. */
export class NatsBus extends QueuedBus<Item> {
  readonly backend = 'nats';
  /** The bus's counters; `replayed` counts the entries its catch-up after a reconnect delivered. */
  declare readonly counters: BusCounters & { replayed: number };
  private readonly names: HubNames;
  private readonly holders = new Map<string, Subscription>();
  private publishNumber = 0;
  /** A publish is being sent again: reported once until one gets through. */
  private retrying = false;
  /** The stream is known to exist (publishes go out). */
  private streamReady = false;
  /** When the stream was created: another value after a reconnect means it was made anew. */
  private streamCreated: string | undefined;
  /** The last stream sequence delivered, and the catch-up after a loss. */
  private readonly sequence: StreamSequence;
  private consumer: { close(): Promise<unknown> } | undefined;
  private consumerUp = false;
  private readonly started: Promise<void>;
  private readonly unlisten: () => void;

  constructor(
    private readonly link: NatsLink,
    context: BusContext,
    private readonly options: NatsBusOptions,
  ) {
    super(context, options.maxQueuedPublishes, (item) => `a send to ${item.subject}`);
    this.counters.replayed = 0;
    this.sequence = new StreamSequence(this.counters);
    this.names = hubNames(options.prefix, context.hubName);
    this.origin = `${token(context.nodeId)}.${Date.now().toString(36)}`;
    this.order = new OriginOrder(5_000, (origin, from, to) =>
      context.receiver.lost(
        undefined,
        to - from + 1,
        `NATS: publishes ${from}..${to} of ${origin} never reached the stream (the node went away before sending them again)`,
      ),
    );
    this.unlisten = link.listen({
      disconnected: () => {
        this.consumerUp = false;
        this.sequence.disconnected();
      },
      reconnected: () => {
        this.counters.reconnects++;
        void this.recover();
      },
    });
    this.started = this.start();
  }

  /** The stream and subject root of this hub (for tests and operators). */
  get stream(): HubNames {
    return this.names;
  }

  async subscribe(channel: Channel): Promise<void> {
    const name = channelName(channel);
    this.channels.set(name, channel);
    if (channel.kind === 'connection' && !this.holders.has(channel.id)) {
      const nc = await this.link.connection;
      if (this.closed || this.channels.get(name) !== channel) return;
      this.holders.set(
        channel.id,
        nc.subscribe(holderSubject(this.names.root, channel.id), {
          callback: (_error, msg) => {
            if (msg.reply) msg.respond(Empty);
          },
        }),
      );
      // The server knows the interest once this round trip is back (at once while disconnected:
      // the client subscribes again when it reconnects).
      if (this.link.connected) await nc.flush().catch(() => undefined);
    }
    await this.started;
  }

  async unsubscribe(channel: Channel): Promise<void> {
    this.channels.delete(channelName(channel));
    if (channel.kind === 'connection') {
      this.holders.get(channel.id)?.unsubscribe();
      this.holders.delete(channel.id);
    }
  }

  publish(channel: Channel, payload: Uint8Array): Promise<number | undefined> {
    return this.queue.publish({
      subject: channelSubject(this.names.root, channel),
      payload,
      holder: channel.kind === 'connection' ? holderSubject(this.names.root, channel.id) : undefined,
    });
  }

  async ready(timeoutMs: number): Promise<void> {
    await withTimeout(this.started, timeoutMs);
  }

  protected async disconnect(): Promise<void> {
    this.unlisten();
    for (const sub of this.holders.values()) sub.unsubscribe();
    this.holders.clear();
    this.order.clear();
    await this.consumer?.close().catch(() => undefined);
  }

  status(): BusStatus {
    return { connected: this.link.connected && this.consumerUp, queued: this.queue.length };
  }

  /** Subscribed channels (for tests). */
  get subscribedChannels(): number {
    return this.channels.size;
  }

  /** This bus's name in the `Sb-Origin` header: the node and the bus's start. */
  private readonly origin: string;
  /** Restores each origin's order after a resend was overtaken by a held publish (the core's `OriginOrder`). */
  private readonly order: OriginOrder;

  /** Makes sure of the stream, then starts the consumer after its last sequence. */
  private async start(): Promise<void> {
    await retryUntil(
      async () => {
        await this.link.connection;
        await this.link.whenUp();
        await this.ensureStream();
        const info = await this.link.manager.streams.info(this.names.stream);
        this.sequence.last = info.state.last_seq;
        await this.startConsumer(info.state.last_seq + 1);
      },
      {
        stopped: () => this.closed,
        onError: (e) =>
          this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `starting the bus of ${this.names.stream}`, e),
        minDelayMs: 250,
        maxDelayMs: 250,
      },
    );
  }

  private async ensureStream(): Promise<void> {
    const created = await this.link.ensureStream({
      name: this.names.stream,
      subjects: [`${this.names.root}.>`],
      max_age: nanos(this.options.maxAgeMs),
      max_msgs_per_subject: this.options.maxLen,
      discard: DiscardPolicy.Old,
      storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: 1,
    });
    if (this.streamCreated !== undefined && created !== this.streamCreated) {
      this.report(
        'SB_ERR_BACKPLANE_LOG_RESET',
        `the stream ${this.names.stream} was made anew (the server lost its JetStream store, or the stream was deleted); entries published before that and not received live cannot be replayed or counted`,
      );
    }
    this.streamCreated = created;
    this.streamReady = true;
    this.queue.drain();
  }

  private async startConsumer(fromSeq: number): Promise<void> {
    const js = this.link.jetstream;
    const consumer = await js.consumers.getPushConsumer(this.names.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    const messages = await consumer.consume();
    // The consumer pushes to a subject the client has only just subscribed to: until the server
    // has that subscription, what it pushes goes nowhere, and the ordered consumer would notice
    // only at the next entry or a missed heartbeat (30 s). One round trip makes sure of it before
    // the bus calls itself up (and before `ready()` resolves).
    await this.link.nats.flush().catch(() => undefined);
    this.consumer = messages;
    this.consumerUp = true;
    void (async () => {
      for await (const status of messages.status()) {
        if (status.type === 'stream_not_found' || status.type === 'consumer_deleted') void this.recover();
      }
    })().catch(() => undefined);
    void (async () => {
      for await (const m of messages) this.onMessage(m);
    })().catch((error: unknown) => this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'the consumer', error));
  }

  /** After a reconnect: the stream may be gone or new; the ordered consumer resumes by itself. */
  private recovering = false;
  private async recover(): Promise<void> {
    if (this.recovering || this.closed) return;
    this.recovering = true;
    try {
      await this.started;
      this.context.receiver.resubscribing();
      const before = this.streamCreated;
      this.streamReady = false;
      await this.ensureStream();
      if (before !== undefined && this.streamCreated !== before) {
        // A new stream numbers from 1 again: start a consumer at its beginning (everything in it
        // was published after the loss).
        await this.consumer?.close().catch(() => undefined);
        this.sequence.restarted();
        await this.startConsumer(1);
      }
      this.consumerUp = true;
      this.sequence.head((await this.link.manager.streams.info(this.names.stream)).state.last_seq);
      this.context.receiver.reconnected();
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', 'recovering after a reconnect', error);
      setTimeout(() => void this.recover(), 250).unref();
    } finally {
      this.recovering = false;
    }
  }

  private onMessage(m: JsMsg): void {
    if (this.closed) return;
    this.counters.messagesReceived++;
    this.counters.bytesReceived += m.data.length;
    const skipped = this.sequence.next(m.seq);
    if (skipped === undefined) return; // delivered already (the ordered consumer never does this)
    if (skipped > 0) {
      this.context.receiver.lost(
        undefined,
        skipped,
        `NATS: stream ${this.names.stream} sequences ${m.seq - skipped}..${m.seq - 1} left the replay window before this node read them`,
      );
      this.order.resync();
    }
    const origin = m.headers?.get(ORIGIN_HEADER);
    const n = Number(m.headers?.get(NUMBER_HEADER));
    if (origin && Number.isSafeInteger(n) && n > 0) this.order.accept(origin, n, () => this.hand(m));
    else this.hand(m);
  }

  /** Hands an entry of a subscribed channel to the core. */
  private hand(m: JsMsg): void {
    if (this.closed) return;
    const name = subjectChannelName(this.names.root, m.subject);
    const channel = name === undefined ? undefined : this.channels.get(name);
    if (!channel) return;
    this.sequence.handed(m.seq);
    try {
      this.context.receiver.message(channel, m.data);
    } catch (error) {
      this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `handling a message of ${name}`, error);
    }
  }

  protected writable(): boolean {
    return !this.closed && this.link.connected && this.streamReady;
  }

  /**
   * Publishes one item to JetStream, numbered in the order written, and sends it again (the message
   * id makes a second store a no-op) until it is stored or the bus closes. A resend may land behind
   * a later publish: readers restore the order by number (the core's `OriginOrder`).
   */
  protected async write(item: Item): Promise<number | undefined> {
    const n = ++this.publishNumber;
    const h = headers();
    h.set(ORIGIN_HEADER, this.origin);
    h.set(NUMBER_HEADER, String(n));
    for (;;) {
      if (this.closed) return undefined;
      try {
        await this.link.jetstream.publish(item.subject, item.payload, {
          msgID: `${this.origin}.${n}`,
          headers: h,
          timeout: this.options.publishTimeoutMs ?? 2_000,
        });
        this.retrying = false;
        return item.holder === undefined ? 1 : await this.askHolder(item.holder);
      } catch (error) {
        if (this.closed) return undefined;
        if (!this.retrying)
          this.report('SB_ERR_BACKPLANE_UNAVAILABLE', `publish to ${item.subject} (sent again)`, error);
        this.retrying = true;
        if (/stream not found|no responders/i.test(String((error as Error)?.message))) {
          this.streamReady = false;
          await this.ensureStream().catch(() => undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        await this.link.whenUp();
      }
    }
  }

  /** 1 when a node holds the connection, 0 when none does (no responders). */
  private async askHolder(subject: string): Promise<number> {
    try {
      await this.link.nats.request(subject, Empty, { timeout: 2_000 });
      return 1;
    } catch (error) {
      if (error instanceof NoRespondersError || (error as Error)?.name === 'NoRespondersError') return 0;
      const cause = (error as { cause?: unknown })?.cause;
      if (cause instanceof NoRespondersError) return 0;
      return 1; // unknown: the core's timeouts settle what waits
    }
  }
}
