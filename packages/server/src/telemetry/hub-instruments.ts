/**
 * OpenTelemetry metrics of the hub server, through `@opentelemetry/api` only: the application
 * registers an SDK (or passes a `MeterProvider`), and without one nothing is installed at all.
 * Instrument names follow ASP.NET Core SignalR where it has them (`signalr.server.*`, meter
 * `Microsoft.AspNetCore.Http.Connections`); ours are `switchboard.*`. docs/server.md lists them.
 * @module
 */
import {
  type Attributes,
  type BatchObservableResult,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api';
import type { ConnectionCloseStatus, HubMetrics } from '../metrics.js';

/** The instrumentation scope (meter) name of the hub server's instruments. */
export const TELEMETRY_SCOPE = '@switchboard/server';

/** The bucket boundaries the reference advises for `signalr.server.connection.duration` (seconds). */
export const CONNECTION_DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** Buckets of `switchboard.invocation.duration` (seconds). */
const INVOCATION_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The reference's `signalr.transport` values, by our transport names. */
const TRANSPORT_VALUES: Readonly<Record<string, string>> = {
  WebSockets: 'web_sockets',
  ServerSentEvents: 'server_sent_events',
  LongPolling: 'long_polling',
};

/** The `signalr.transport` value of a transport name (`web_sockets`, `server_sent_events`, `long_polling`). */
export function transportAttribute(transport: string): string {
  return TRANSPORT_VALUES[transport] ?? transport;
}

/** The meter of `provider` (the global one by default), or undefined when it is the API's no-op. */
export function liveMeter(provider: MeterProvider = metrics.getMeterProvider()): Meter | undefined {
  const meter = provider.getMeter(TELEMETRY_SCOPE);
  // Without a registered SDK the API hands out its no-op meter: then nothing is installed, so the
  // hot path does not even build the attributes.
  return meter.constructor === NOOP_METER_CLASS ? undefined : meter;
}

const NOOP_METER_CLASS = createNoopMeter().constructor;

/**
 * {@link HubMetrics} recorded into OpenTelemetry instruments. The server installs one for its
 * meter provider (see `HubServerOptions.meterProvider`) beside the application's own hooks.
 *
 * Attributes: `signalr.hub` (the hub's path), `signalr.transport` (the reference's values),
 * `signalr.connection.status` (`normal_closure`, `timeout`, `app_shutdown`), `signalr.method`
 * (the hub's declared method name or `unknown`), `error.type` (a catalogue code). Attribute sets
 * are cached, so a recording allocates nothing.
 */
export class OpenTelemetryHubMetrics implements HubMetrics {
  private readonly activeConnections: LocalSum;
  private readonly connectionDuration: Histogram;
  private readonly opened: LocalSum;
  private readonly closed: LocalSum;
  private readonly messagesIn: LocalSum;
  private readonly bytesIn: LocalSum;
  private readonly messagesOut: LocalSum;
  private readonly bytesOut: LocalSum;
  private readonly invocations: LocalSum;
  private readonly invocationsFailed: LocalSum;
  private readonly invocationDuration: Histogram;
  private readonly errors: LocalSum;
  private readonly attributes: AttributeTree = new Map();

  constructor(meter: Meter) {
    this.activeConnections = new LocalSum(
      meter.createObservableUpDownCounter('signalr.server.active_connections', {
        unit: '{connection}',
        description: 'Number of connections that are currently active on the server.',
      }),
    );
    this.connectionDuration = meter.createHistogram('signalr.server.connection.duration', {
      unit: 's',
      description: 'The duration of connections on the server.',
      advice: { explicitBucketBoundaries: CONNECTION_DURATION_BUCKETS },
    });
    this.opened = new LocalSum(
      meter.createObservableCounter('switchboard.connections.opened', {
        unit: '{connection}',
        description: 'Connections that finished their handshake.',
      }),
    );
    this.closed = new LocalSum(
      meter.createObservableCounter('switchboard.connections.closed', {
        unit: '{connection}',
        description: 'Connections that ended after their handshake.',
      }),
    );
    this.messagesIn = new LocalSum(
      meter.createObservableCounter('switchboard.messages.received', {
        unit: '{message}',
        description: 'Hub messages received from clients.',
      }),
    );
    this.bytesIn = new LocalSum(
      meter.createObservableCounter('switchboard.bytes.received', {
        unit: 'By',
        description: 'Bytes received from clients.',
      }),
    );
    this.messagesOut = new LocalSum(
      meter.createObservableCounter('switchboard.messages.sent', {
        unit: '{write}',
        description: 'Writes to clients (one write may carry several hub messages).',
      }),
    );
    this.bytesOut = new LocalSum(
      meter.createObservableCounter('switchboard.bytes.sent', {
        unit: 'By',
        description: 'Bytes written to clients.',
      }),
    );
    this.invocations = new LocalSum(
      meter.createObservableCounter('switchboard.invocations', {
        unit: '{invocation}',
        description: 'Hub method invocations (streams included), by method.',
      }),
    );
    this.invocationsFailed = new LocalSum(
      meter.createObservableCounter('switchboard.invocations.failed', {
        unit: '{invocation}',
        description: 'Hub method invocations that failed, by method.',
      }),
    );
    this.invocationDuration = meter.createHistogram('switchboard.invocation.duration', {
      unit: 's',
      description: 'How long hub method invocations took (a stream: until its Completion).',
      advice: { explicitBucketBoundaries: INVOCATION_DURATION_BUCKETS },
    });
    this.errors = new LocalSum(
      meter.createObservableCounter('switchboard.errors', {
        unit: '{error}',
        description: 'Server errors by catalogue code (docs/errors.md).',
      }),
    );
    // The counters add up here, in plain numbers, and are read when a reader collects: the hot
    // path pays a map update, not the SDK's per-measurement attribute hashing.
    const sums = [
      this.activeConnections,
      this.opened,
      this.closed,
      this.messagesIn,
      this.bytesIn,
      this.messagesOut,
      this.bytesOut,
      this.invocations,
      this.invocationsFailed,
      this.errors,
    ];
    meter.addBatchObservableCallback(
      (result) => {
        for (const sum of sums) sum.report(result);
      },
      sums.map((sum) => sum.instrument),
    );
  }

  /**
   * Starts the hub's counters at 0 (attribute `signalr.hub` alone), so that every counter is
   * exported from the start rather than from its first event (Prometheus' advice for counters).
   */
  hubMapped(hub: string): void {
    const attributes = this.hubAttributes(hub);
    for (const counter of [
      this.activeConnections,
      this.opened,
      this.closed,
      this.messagesIn,
      this.bytesIn,
      this.messagesOut,
      this.bytesOut,
      this.invocations,
      this.invocationsFailed,
      this.errors,
    ]) {
      counter.add(0, attributes);
    }
  }

  connectionOpened(hub: string, transport: string): void {
    const attributes = this.cached('t', hub, transport, '', () => ({
      'signalr.hub': hub,
      'signalr.transport': transportAttribute(transport),
    }));
    this.activeConnections.add(1, attributes);
    this.opened.add(1, attributes);
  }

  connectionClosed(
    hub: string,
    transport: string,
    durationMs: number,
    status: ConnectionCloseStatus = 'normal_closure',
  ): void {
    const attributes = this.cached('t', hub, transport, '', () => ({
      'signalr.hub': hub,
      'signalr.transport': transportAttribute(transport),
    }));
    this.activeConnections.add(-1, attributes);
    this.closed.add(1, attributes);
    this.connectionDuration.record(
      durationMs / 1000,
      this.cached('d', hub, transport, status, () => ({
        'signalr.hub': hub,
        'signalr.transport': transportAttribute(transport),
        'signalr.connection.status': status,
      })),
    );
  }

  messagesReceived(hub: string, messages: number, bytes: number): void {
    const attributes = this.hubAttributes(hub);
    this.messagesIn.add(messages, attributes);
    this.bytesIn.add(bytes, attributes);
  }

  messageSent(hub: string, bytes: number): void {
    const attributes = this.hubAttributes(hub);
    this.messagesOut.add(1, attributes);
    this.bytesOut.add(bytes, attributes);
  }

  invocationCompleted(hub: string, method: string, ok: boolean, durationMs: number): void {
    const attributes = this.cached('i', hub, method, '', () => ({
      'signalr.hub': hub,
      'signalr.method': method,
    }));
    this.invocations.add(1, attributes);
    if (!ok) this.invocationsFailed.add(1, attributes);
    this.invocationDuration.record(
      durationMs / 1000,
      this.cached('o', hub, method, ok ? 'ok' : 'error', () => ({
        'signalr.hub': hub,
        'signalr.method': method,
        'switchboard.invocation.outcome': ok ? 'ok' : 'error',
      })),
    );
  }

  error(hub: string, code: string): void {
    this.errors.add(
      1,
      // `code` is the label /metrics always had; `error.type` is the semantic conventions' name.
      this.cached('e', hub, code, '', () => ({ 'signalr.hub': hub, 'error.type': code, code })),
    );
  }

  private hubAttributes(hub: string): Attributes {
    return this.cached('h', hub, '', '', () => ({ 'signalr.hub': hub }));
  }

  /**
   * One attribute object per distinct (kind, a, b, c), in nested maps so that a lookup allocates
   * nothing (hubs, transports, methods, statuses and codes are all bounded sets).
   */
  private cached(kind: string, a: string, b: string, c: string, build: () => Attributes): Attributes {
    const byA = child(this.attributes, kind);
    const byB = child(byA, a);
    const byC = child(byB, b);
    let attributes = byC.get(c) as Attributes | undefined;
    if (attributes === undefined) {
      attributes = Object.freeze(build());
      byC.set(c, attributes);
    }
    return attributes;
  }
}

type AttributeTree = Map<string, AttributeTree | Attributes>;

/** A sum kept in plain numbers per attribute set (an object the caller caches), observed on collection. */
class LocalSum {
  private readonly values = new Map<Attributes, number>();

  constructor(readonly instrument: Observable) {}

  add(value: number, attributes: Attributes): void {
    this.values.set(attributes, (this.values.get(attributes) ?? 0) + value);
  }

  report(result: BatchObservableResult): void {
    for (const [attributes, value] of this.values) result.observe(this.instrument, value, attributes);
  }
}

function child(tree: AttributeTree, key: string): AttributeTree {
  let next = tree.get(key) as AttributeTree | undefined;
  if (next === undefined) {
    next = new Map();
    tree.set(key, next);
  }
  return next;
}

/** Calls every one of several {@link HubMetrics}. */
export function combineMetrics(all: readonly HubMetrics[]): HubMetrics {
  if (all.length === 1) return all[0]!;
  return {
    connectionOpened: (hub, transport) => {
      for (const m of all) m.connectionOpened(hub, transport);
    },
    connectionClosed: (hub, transport, durationMs, status) => {
      for (const m of all) m.connectionClosed(hub, transport, durationMs, status);
    },
    messagesReceived: (hub, messages, bytes) => {
      for (const m of all) m.messagesReceived(hub, messages, bytes);
    },
    messageSent: (hub, bytes) => {
      for (const m of all) m.messageSent(hub, bytes);
    },
    invocationCompleted: (hub, method, ok, durationMs) => {
      for (const m of all) m.invocationCompleted(hub, method, ok, durationMs);
    },
    error: (hub, code) => {
      for (const m of all) m.error(hub, code);
    },
  };
}
