/**
 * Numbered messages for fault tests: senders number what they send, receivers record what they
 * get, and a check per sender says what is missing, twice or out of order.
 * @module
 */
import type { HubConnection } from '@microsoft/signalr';
import { sleep } from './processes.js';

/** The text of message `n` of `sender`. */
export function numbered(sender: string, n: number): string {
  return `${sender}#${n}`;
}

/** Records the numbered messages one receiver gets, per sender, in arrival order. */
export class NumberedReceiver {
  private readonly bySender = new Map<string, number[]>();
  /** Messages that were not numbered messages. */
  readonly other: unknown[] = [];

  constructor(readonly name: string) {}

  /** Records one received message. */
  record(message: unknown): void {
    const match = typeof message === 'string' ? /^(.+)#(\d+)$/.exec(message) : null;
    if (!match) {
      this.other.push(message);
      return;
    }
    const list = this.bySender.get(match[1]!) ?? [];
    list.push(Number(match[2]));
    this.bySender.set(match[1]!, list);
  }

  /** What arrived from `sender`, in arrival order. */
  from(sender: string): readonly number[] {
    return this.bySender.get(sender) ?? [];
  }

  /** Whether `n` of `sender` arrived. */
  has(sender: string, n: number): boolean {
    return this.from(sender).includes(n);
  }

  /** A copy of what arrived so far, per sender. */
  snapshot(): Map<string, Set<number>> {
    return new Map([...this.bySender].map(([sender, list]) => [sender, new Set(list)]));
  }
}

/** What one sender sent. */
export interface SentRecord {
  /** The sender's name (the prefix of its messages). */
  readonly sender: string;
  /** Numbers whose invocation completed. */
  readonly completed: number[];
  /** Numbers whose invocation failed (e.g. the connection dropped). */
  readonly failed: number[];
  /** When each number was invoked (ms since the epoch). */
  readonly startedAt: Map<number, number>;
}

/**
 * Sends numbered messages from one connection in a loop until stopped: message n is
 * `invoke(method, ...args(numbered(sender, n)))`, one at a time, `pauseMs` apart. A failed
 * invocation is recorded and the loop goes on (after the client has reconnected, if it will).
 */
export class NumberedSender {
  readonly record: SentRecord;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    sender: string,
    connection: () => HubConnection,
    method: string,
    args: (message: string) => unknown[],
    pauseMs = 20,
  ) {
    const record: SentRecord = { sender, completed: [], failed: [], startedAt: new Map() };
    this.record = record;
    this.loop = (async () => {
      for (let n = 0; !this.stopped; n++) {
        record.startedAt.set(n, Date.now());
        try {
          await connection().invoke(method, ...args(numbered(sender, n)));
          record.completed.push(n);
        } catch {
          record.failed.push(n);
          await sleep(50);
        }
        await sleep(pauseMs);
      }
    })();
  }

  /** The next number to be sent. */
  get next(): number {
    return this.record.startedAt.size;
  }

  /** Stops the loop after the invocation in flight. */
  async stop(): Promise<SentRecord> {
    this.stopped = true;
    await this.loop;
    return this.record;
  }
}

/**
 * The problems of one receiver with one sender: a number twice, out of order, never sent, or
 * missing although `mustHave` says it must have arrived. Empty when all is well.
 */
export function numberedProblems(
  receiver: NumberedReceiver,
  sent: SentRecord,
  mustHave: (n: number) => boolean,
): string[] {
  const problems: string[] = [];
  const got = receiver.from(sent.sender);
  const seen = new Set<number>();
  const sentNumbers = new Set([...sent.completed, ...sent.failed]);
  let last = -1;
  for (const n of got) {
    if (seen.has(n)) problems.push(`${n} twice`);
    else if (n < last) problems.push(`${n} after ${last}`);
    if (!sentNumbers.has(n)) problems.push(`${n} never sent`);
    seen.add(n);
    last = Math.max(last, n);
  }
  const missing = sent.completed.filter((n) => mustHave(n) && !seen.has(n));
  if (missing.length > 0) problems.push(`missing ${missing.length}: ${missing.slice(0, 20).join(',')}`);
  return problems.map((p) => `${receiver.name} from ${sent.sender}: ${p}`);
}
