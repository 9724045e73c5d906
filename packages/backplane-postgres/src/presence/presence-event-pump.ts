/**
 * Exactly-once, in-order delivery of presence events on one node: events arrive from the node's own
 * calls, from NOTIFY wake-ups and from heartbeats (which tell the log's head); the pump delivers
 * each number once, in order, reading any gap from the log table first.
 * @module
 */
import { PostgresBackplaneError } from '../errors.js';

/** An event as the SQL functions return it and the log table holds it. */
export interface WireEvent {
  /** The epoch of the numbering (a new one after the tables were emptied). */
  readonly e: string;
  /** The event number within the epoch: 1, 2, 3 … with no gap. */
  readonly s: number;
  readonly t: 'userOnline' | 'userOffline';
  readonly u: string;
  readonly a: number;
  readonly o: string;
}

/** What an {@link EventPump} needs from its store. */
export interface EventPumpOptions {
  /**
   * Reads the logged events of `epoch` numbered after `after` up to `upTo`, in order; undefined
   * when the store is closing (delivery stops, no gap is reported).
   */
  readonly readLog: (epoch: string, after: number, upTo: number) => Promise<WireEvent[] | undefined>;
  /** Delivers one event to the node's listeners. */
  readonly deliver: (event: WireEvent) => void;
  /** Receives lost events (`SB_ERR_BACKPLANE_PG_REPLAY_GAP`) and failed log reads. */
  readonly onError: (error: unknown) => void;
  /** The node's id, for messages. */
  readonly nodeId: string;
}

/**
 * Serializes delivery: every {@link ingest} runs after the previous one. Epochs are zero-padded
 * timestamps of one length: a later one sorts after an earlier one, and an event of an older
 * epoch than the pump's is dropped.
 */
export class EventPump {
  private epoch: string | undefined;
  private lastSeq = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: EventPumpOptions) {}

  /**
   * Sets where delivery starts when the node joins: after number `lastSeq` of `epoch`. Later calls
   * (a re-assert) change nothing: a new epoch is entered as events or heads of it arrive.
   */
  start(epoch: string, lastSeq: number): void {
    if (this.epoch !== undefined) return;
    this.epoch = epoch;
    this.lastSeq = lastSeq;
  }

  /**
   * Queues events (and what the log head says) for delivery: in number order, each once, a gap
   * read from the log first. Resolves once they are delivered; never rejects. Before {@link start},
   * nothing is delivered (the join's head covers it).
   */
  ingest(events: readonly WireEvent[], head?: { epoch: string; head: number }): Promise<void> {
    const run = this.queue.then(() => this.deliverAll(events, head));
    this.queue = run.catch((error: unknown) => this.options.onError(error));
    return this.queue;
  }

  private async deliverAll(
    raw: readonly WireEvent[],
    head: { epoch: string; head: number } | undefined,
  ): Promise<void> {
    if (this.epoch === undefined) return;
    const events = [...raw].sort((x, y) => compare(x.e, y.e) || x.s - y.s);
    for (const event of events) {
      if (!this.enterEpoch(event.e)) continue;
      if (event.s <= this.lastSeq) continue;
      if (event.s > this.lastSeq + 1) await this.catchUp(event.s - 1);
      this.lastSeq = event.s;
      this.options.deliver(event);
    }
    if (head && this.enterEpoch(head.epoch) && head.head > this.lastSeq) await this.catchUp(head.head);
  }

  /** Moves to a newer epoch (numbering restarts); false for an event of an older one. */
  private enterEpoch(epoch: string): boolean {
    if (this.epoch === undefined || compare(epoch, this.epoch) > 0) {
      this.epoch = epoch;
      this.lastSeq = 0;
      return true;
    }
    return this.epoch === epoch;
  }

  /** Delivers the logged events after `lastSeq` up to `upTo`. */
  private async catchUp(upTo: number): Promise<void> {
    const epoch = this.epoch!;
    const logged = await this.options.readLog(epoch, this.lastSeq, upTo);
    if (logged === undefined) return;
    for (const event of logged) {
      if (event.e !== this.epoch || event.s <= this.lastSeq) continue;
      if (event.s > this.lastSeq + 1) this.reportGap(this.lastSeq + 1, event.s - 1);
      this.lastSeq = event.s;
      this.options.deliver(event);
    }
    if (this.epoch === epoch && this.lastSeq < upTo) {
      this.reportGap(this.lastSeq + 1, upTo);
      this.lastSeq = upTo;
    }
  }

  private reportGap(from: number, to: number): void {
    this.options.onError(
      new PostgresBackplaneError(
        'SB_ERR_BACKPLANE_PG_REPLAY_GAP',
        `Presence events ${from}..${to} of node '${this.options.nodeId}' are no longer in the event log.`,
      ),
    );
  }
}

function compare(x: string, y: string): number {
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}
