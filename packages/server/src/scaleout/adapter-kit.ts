/**
 * What every backend adapter needs besides its {@link Bus} and {@link PresenceBackend}, written
 * once: fresh bus counters, errors whose message names the backend, the wire form of a remote
 * presence change, the options every backend shares (their documentation, defaults and checks),
 * and the documented one-piece wrappers (`RedisHubLifetimeManager`, `RedisPresenceStore` …) as
 * two generic class factories.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { SwitchboardError } from '../errors.js';
import type { PresenceConnection } from '../presence/presence-store.js';
import type { BusContext, BusCounters, BusFactory } from './bus.js';
import { label } from './channel-sequencer.js';
import { BackplaneError, type BackplaneErrorCodeOnly } from './errors.js';
import type {
  PresenceAssertion,
  PresenceBackendContext,
  PresenceBackendFactory,
  RemotePresenceChange,
} from './presence-backend.js';
import {
  ScaleoutHubLifetimeManager,
  type ScaleoutHubLifetimeManagerOptions,
} from './scaleout-hub-lifetime-manager.js';
import { ScaleoutPresenceStore, type ScaleoutPresenceStoreOptions } from './scaleout-presence-store.js';

/** A bus's counters, every one 0 (a bus keeps them and hands them out as {@link Bus.counters}). */
export function newBusCounters(): BusCounters {
  return {
    messagesReceived: 0,
    bytesReceived: 0,
    published: 0,
    queued: 0,
    queueOverflows: 0,
    reconnects: 0,
    errors: 0,
  };
}

/**
 * A {@link BackplaneError} whose message names the backend: `Redis: <what>: <cause's message>`
 * (the cause's message only when there is a cause).
 */
export function backendError(
  backend: string,
  code: BackplaneErrorCodeOnly,
  what: string,
  cause?: unknown,
): BackplaneError {
  const detail = cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new BackplaneError(code, `${label(backend)}: ${what}${detail}`, { cause, backend });
}

/**
 * Hands a bus's fault to the core ({@link BusReceiver.error}) and counts it in `counters.errors`.
 * A receiver that throws must not take the bus down: that is ignored.
 */
export function reportBusError(context: BusContext, counters: BusCounters, error: BackplaneError): void {
  counters.errors++;
  try {
    context.receiver.error(error);
  } catch {
    // a throwing hook must not take the bus down
  }
}

/**
 * The {@link RemotePresenceChange} of the compact wire form the Redis and PostgreSQL backends
 * publish to a node: `rm` (removed), `ga` (added to `group`), `gr` (removed from `group`);
 * `undefined` for anything else.
 */
export function remoteChangeOf(
  kind: unknown,
  connectionId: unknown,
  group?: unknown,
): RemotePresenceChange | undefined {
  if (typeof connectionId !== 'string') return undefined;
  if (kind === 'rm') return { kind: 'remove', connectionId };
  if ((kind !== 'ga' && kind !== 'gr') || typeof group !== 'string') return undefined;
  return { kind: kind === 'ga' ? 'addToGroup' : 'removeFromGroup', connectionId, group };
}

/**
 * Hands a presence backend's fault to the core (its receiver's `error`) as
 * `SB_ERR_BACKPLANE_UNAVAILABLE`, its message `<Backend>: presence <what> failed: <cause>`.
 */
export function reportPresenceError(
  context: PresenceBackendContext,
  backend: string,
  what: string,
  cause: unknown,
): void {
  context.receiver.error(
    backendError(backend, 'SB_ERR_BACKPLANE_UNAVAILABLE', `presence ${what} failed`, cause),
  );
}

/**
 * The wire form of a {@link PresenceAssertion} that the Redis and PostgreSQL backends hand their
 * assert operation: JSON `{c: [[connection id, user id, connection, groups]…], u: online users}`,
 * each connection as `encode` gives it (itself by default, or a JSON string of it).
 */
export function presenceAssertionJson(
  state: PresenceAssertion,
  encode: (connection: PresenceConnection) => unknown = (connection) => connection,
): string {
  const c = state.connections.map((x) => [
    x.connection.connectionId,
    x.connection.userId,
    encode(x.connection),
    x.groups,
  ]);
  return JSON.stringify({ c, u: state.onlineUsers });
}

/**
 * The entries of `values` that are defined: for options whose keys are exact (a key absent, never
 * `undefined`) when some values may be missing.
 */
export function definedOptions<T extends object>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as never;
}

/**
 * Checks a numeric option: a finite number, at least `min`; refused with
 * `SB_ERR_HUB_CONFIGURATION` naming the option before anything connects.
 */
export function checkNumberOption(name: string, value: number, min = 1): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SwitchboardError(
      'SB_ERR_HUB_CONFIGURATION',
      `Backplane option ${name} must be a finite number, at least ${min}; got ${value}.`,
    );
  }
  return value;
}

/** The replay window and outage queue of a backend whose log is kept per channel (Redis, NATS). */
export interface ReplayWindowOptions {
  /** Replay window by count: about this many entries kept per channel. Default 10 000. */
  readonly maxLen?: number;
  /** Replay window by age: entries older than this leave the log. Default 60 000 ms. */
  readonly maxAgeMs?: number;
  /** Publishes queued while the backend is unreachable; past it the oldest is dropped and reported. Default 10 000. */
  readonly maxQueuedPublishes?: number;
}

/** {@link ReplayWindowOptions} with their defaults, each checked ({@link checkNumberOption}). */
export function replayWindow(options: ReplayWindowOptions): Required<ReplayWindowOptions> {
  return {
    maxLen: checkNumberOption('maxLen', options.maxLen ?? 10_000),
    maxAgeMs: checkNumberOption('maxAgeMs', options.maxAgeMs ?? 60_000),
    maxQueuedPublishes: checkNumberOption('maxQueuedPublishes', options.maxQueuedPublishes ?? 10_000),
  };
}

/** Options of a one-hub wrapper ({@link lifetimeManagerWrapper}): the core manager's, without the bus. */
export type LifetimeManagerWrapperOptions = Omit<ScaleoutHubLifetimeManagerOptions, 'bus'>;

/** A documented one-hub class of a backend: `new Wrapper(options)` is a {@link ScaleoutHubLifetimeManager}. */
export interface LifetimeManagerWrapper<O extends LifetimeManagerWrapperOptions> {
  new (options?: O): ScaleoutHubLifetimeManager;
  readonly prototype: ScaleoutHubLifetimeManager;
}

/**
 * The class of a backend's one-hub lifetime manager (`RedisHubLifetimeManager`), for
 * applications that wire one manager per hub (`lifetimeManagerFactory`): the core's
 * {@link ScaleoutHubLifetimeManager} over the bus that `bus` builds from the options and the node
 * id (a random UUID when the options give none). `instanceof` works as with any class.
 */
export function lifetimeManagerWrapper<O extends LifetimeManagerWrapperOptions>(
  name: string,
  bus: (options: O, nodeId: string) => BusFactory,
): LifetimeManagerWrapper<O> {
  const wrapper = class extends ScaleoutHubLifetimeManager {
    constructor(options: O = {} as O) {
      const nodeId = options.nodeId ?? randomUUID();
      super({ ...options, nodeId, bus: bus(options, nodeId) });
    }
  };
  Object.defineProperty(wrapper, 'name', { value: name });
  return wrapper;
}

/** Options of a presence wrapper ({@link presenceStoreWrapper}): the core store's, without the backend. */
export type PresenceStoreWrapperOptions = Omit<ScaleoutPresenceStoreOptions, 'backend' | 'warningCode'>;

/** A documented presence class of a backend: `new Wrapper(options)` is a {@link ScaleoutPresenceStore}. */
export interface PresenceStoreWrapper<O extends PresenceStoreWrapperOptions> {
  new (options?: O): ScaleoutPresenceStore;
  readonly prototype: ScaleoutPresenceStore;
}

/**
 * The class of a backend's presence store (`RedisPresenceStore`): the core's
 * {@link ScaleoutPresenceStore} over the backend that `backend` builds from the options and the
 * node id, whose default `onError` warns with `warningCode` (`SB_PRESENCE_REDIS` …).
 */
export function presenceStoreWrapper<O extends PresenceStoreWrapperOptions>(
  name: string,
  warningCode: string,
  backend: (options: O, nodeId: string) => PresenceBackendFactory,
): PresenceStoreWrapper<O> {
  const wrapper = class extends ScaleoutPresenceStore {
    constructor(options: O = {} as O) {
      const nodeId = options.nodeId ?? randomUUID();
      super({ ...options, nodeId, warningCode, backend: backend(options, nodeId) });
    }
  };
  Object.defineProperty(wrapper, 'name', { value: name });
  return wrapper;
}
