/**
 * Backplane lag, measured through the backplane itself. Every node keeps one probe in its hub
 * lifetime manager (a `HubConnectionRef` without a client) in the group `LAG_PROBE_GROUP`, and
 * every `intervalMs` sends that group an invocation whose target carries its node id and send
 * time. Each other node's probe receives it as a connection would (published, carried by Redis or
 * PostgreSQL, ordered, dispatched locally) and records the delay per origin node: what a chat
 * message spends between two nodes, as a metric. Nodes on different hosts add their clock offset.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { HubConnectionRef, HubLifetimeManager, Logger, SerializedHubMessage } from '@switchboard/server';

/** The group every node's probe is in. */
export const LAG_PROBE_GROUP = 'switchboard:backplane-lag';
const TARGET_PREFIX = 'switchboard.lagProbe|';

/** What one node has seen of the others' probes. */
export interface BackplaneLagSnapshot {
  /** The last delay seen from each other node, in milliseconds, by origin node id. */
  readonly lastLagMs: ReadonlyMap<string, number>;
  /** Probes received from other nodes since the start. */
  readonly probesReceived: number;
}

/** Sends and receives lag probes on one node. */
export class BackplaneLagProbe {
  private readonly lags = new Map<string, number>();
  private received = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly ref: HubConnectionRef;

  constructor(
    private readonly manager: HubLifetimeManager,
    private readonly nodeId: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.ref = {
      connectionId: `lag-probe-${randomUUID()}`,
      userIdentifier: undefined,
      writeMessage: (message) => this.receive(message),
      close: () => undefined,
    };
  }

  /** Joins the probe group and starts sending a probe every `intervalMs` (and one now). */
  async start(): Promise<void> {
    await this.manager.onConnected(this.ref);
    await this.manager.addToGroup(this.ref.connectionId, LAG_PROBE_GROUP);
    this.timer = setInterval(() => this.send(), this.intervalMs);
    this.timer.unref();
    this.send();
  }

  /** Stops sending and leaves the lifetime manager (before it closes). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.manager.onDisconnected(this.ref).catch(() => undefined);
  }

  /** The delays seen so far. */
  snapshot(): BackplaneLagSnapshot {
    return { lastLagMs: new Map(this.lags), probesReceived: this.received };
  }

  private send(): void {
    const target = `${TARGET_PREFIX}${this.now()}|${this.nodeId}`;
    this.manager.sendGroup(LAG_PROBE_GROUP, target, []).catch((error: unknown) => {
      this.logger.debug('chat.lag_probe.send_failed', { error });
    });
  }

  private receive(serialized: SerializedHubMessage): void {
    const target = (serialized.message as { target?: unknown }).target;
    if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) return;
    const rest = target.slice(TARGET_PREFIX.length);
    const bar = rest.indexOf('|');
    const sentAt = Number(rest.slice(0, bar));
    const origin = rest.slice(bar + 1);
    // Its own probe comes back locally, without crossing the backplane: not a measure.
    if (bar < 0 || !Number.isFinite(sentAt) || origin === this.nodeId) return;
    this.lags.set(origin, Math.max(0, this.now() - sentAt));
    this.received++;
  }
}
