/**
 * {@link StreamSequence}: the read position of a bus without a replay log whose backend numbers a
 * hub's entries 1, 2, 3 … with no gap and delivers them in order, catching up by itself after a
 * reconnect (a JetStream stream read by an ordered consumer). An entry at or before the position
 * is dropped; a jump in the numbers is a loss the bus reports (`BusReceiver.lost`); after a
 * reconnect, the entries up to the stream's head found then are the catch-up, counted in
 * `replayed`. Written once for every such backend.
 * @module
 */
/** A catch-up after a loss (see {@link StreamSequence}). */
interface CatchUp {
  /** Entries after this one belong to it. */
  from: number;
  /** The stream's head found at the reconnect: unknown until the bus read it. */
  upTo: number | undefined;
  /** Entries handed before `upTo` was known. */
  handed: number[];
}

/** The position of a bus in its stream, and its catch-up after a loss; see the module. */
export class StreamSequence {
  /** The last number delivered (or skipped as not for a subscribed channel); 0 before the first. */
  last = 0;
  private catchUp: CatchUp | undefined;

  /** @param counters the bus's counters: `replayed` counts the entries of each catch-up. */
  constructor(private readonly counters: { replayed: number }) {}

  /** The connection was lost: a catch-up starts here (one whose head is not known yet goes on). */
  disconnected(): void {
    if (this.catchUp?.upTo !== undefined || !this.catchUp)
      this.catchUp = { from: this.last, upTo: undefined, handed: [] };
  }

  /** The stream was made anew: it numbers from 1 again (everything in it came after the loss). */
  restarted(): void {
    this.last = 0;
    if (this.catchUp) this.catchUp.from = 0;
  }

  /** After a reconnect: the stream's head now; the entries handed up to it are counted as replayed. */
  head(head: number): void {
    if (!this.catchUp) return;
    this.catchUp.upTo = head;
    this.counters.replayed += this.catchUp.handed.filter((n) => n <= head).length;
    this.catchUp.handed = [];
  }

  /**
   * Entry `n` arrived: `undefined` when it was delivered already, else how many entries before it
   * were passed by (0 for none; entries before the first one read are no loss).
   */
  next(n: number): number | undefined {
    if (n <= this.last) return undefined;
    const skipped = this.last > 0 && n > this.last + 1 ? n - this.last - 1 : 0;
    this.last = n;
    return skipped;
  }

  /** Entry `n` of a subscribed channel goes to the core: counted while it is part of a catch-up. */
  handed(n: number): void {
    const catchUp = this.catchUp;
    if (!catchUp || n <= catchUp.from) return;
    if (catchUp.upTo === undefined) catchUp.handed.push(n);
    else if (n <= catchUp.upTo) this.counters.replayed++;
    else this.catchUp = undefined; // past the head found at the reconnect: live again
  }
}
