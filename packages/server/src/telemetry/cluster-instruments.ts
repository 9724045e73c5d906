/**
 * OpenTelemetry instruments of a node's cluster parts: the scale-out core's counters (the same for
 * every backplane, read when a reader collects) and the presence transitions this node hears.
 * @module
 */
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import type { PresenceStore } from '../presence/presence-store.js';
import type { Backplane, ScaleoutCounters } from '../scaleout/backplane.js';

/** The core's counters that are totals, exported as `switchboard.backplane.<snake_case name>`. */
export const BACKPLANE_COUNTERS: readonly (keyof ScaleoutCounters)[] = [
  'published',
  'messagesReceived',
  'bytesReceived',
  'replayed',
  'duplicatesDropped',
  'lost',
  'logResets',
  'unknownVersions',
  'queued',
  'queueOverflows',
  'reconnects',
  'errors',
];

/** The core's counters that are levels now (gauges). */
export const BACKPLANE_GAUGES: readonly (keyof ScaleoutCounters)[] = ['subscribedChannels'];

/** `duplicatesDropped` → `duplicates_dropped`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Observes `backplane`'s per-hub counters (attributes `signalr.hub`, `switchboard.backplane`) and
 * counts `presence` transitions (`switchboard.presence.transitions`, attribute
 * `switchboard.presence.transition` = `online` | `offline`). Returns what stops both.
 */
export function observeCluster(
  meter: Meter,
  backplane: Backplane | undefined,
  presence: PresenceStore,
): () => void {
  const stops: (() => void)[] = [];
  if (backplane !== undefined) {
    const counters = BACKPLANE_COUNTERS.map((key) => ({
      key,
      instrument: meter.createObservableCounter(`switchboard.backplane.${snakeCase(key)}`, {
        description: `The scale-out core's counter '${key}' of this node, per hub.`,
      }),
    }));
    const gauges = BACKPLANE_GAUGES.map((key) => ({
      key,
      instrument: meter.createObservableUpDownCounter(`switchboard.backplane.${snakeCase(key)}`, {
        description: `The scale-out core's level '${key}' on this node, per hub.`,
      }),
    }));
    const all = [...counters, ...gauges];
    const callback: BatchObservableCallback = (result) => {
      const health = backplane.health();
      for (const [hub, state] of Object.entries(health.hubs)) {
        const attributes = { 'signalr.hub': hub, 'switchboard.backplane': health.backend };
        for (const { key, instrument } of all) {
          const value = state.counters[key];
          if (typeof value === 'number' && Number.isFinite(value))
            result.observe(instrument, value, attributes);
        }
      }
    };
    const instruments = all.map((entry) => entry.instrument);
    meter.addBatchObservableCallback(callback, instruments);
    stops.push(() => meter.removeBatchObservableCallback(callback, instruments));
  }
  const transitions = meter.createCounter('switchboard.presence.transitions', {
    unit: '{transition}',
    description: 'Users going online or offline (cluster-wide transitions, as this node hears them).',
  });
  const online = Object.freeze({ 'switchboard.presence.transition': 'online' });
  const offline = Object.freeze({ 'switchboard.presence.transition': 'offline' });
  try {
    stops.push(
      presence.subscribe((event) => transitions.add(1, event.type === 'userOnline' ? online : offline)),
    );
  } catch {
    // A closed store refuses subscribers: there is nothing to count then.
  }
  return () => {
    for (const stop of stops) stop();
  };
}
