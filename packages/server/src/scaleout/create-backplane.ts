/**
 * {@link createBackplane}: the one {@link Backplane} implementation every backend returns (its
 * `redisBackplane()`, `postgresBackplane()`, `natsBackplane()` only build a bus factory and a
 * presence store), and {@link loopbackBackplane}, the in-memory one for tests.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { HubProtocol } from '@switchboard/protocol';
import type { Logger } from '../logger.js';
import type { PresenceEvent, PresenceStore } from '../presence/presence-store.js';
import type { Backplane, BackplaneHealth, HubBackplaneHealth } from './backplane.js';
import type { BusFactory } from './bus.js';
import { BackplaneError } from './errors.js';
import type { LoopbackNetwork } from './loopback-bus.js';
import type { LoopbackPresenceNetwork } from './loopback-presence.js';
import { ScaleoutHubLifetimeManager } from './scaleout-hub-lifetime-manager.js';
import { ScaleoutPresenceStore, type ScaleoutPresenceStoreOptions } from './scaleout-presence-store.js';

/** A presence store that may tell when it joined the cluster. */
export type BackplanePresenceStore = PresenceStore & { readonly ready?: Promise<void> };

/** Options every backend's backplane function accepts (`redisBackplane({ url, ...these })`). */
export interface BackplaneCommonOptions {
  /** This node's id, unique in the cluster. Default: a random UUID. */
  readonly nodeId?: string;
  /** How long a remote group change waits for the owning node. Default 5 000 ms. */
  readonly ackTimeoutMs?: number;
  /** Every protocol the cluster's clients may use. Default JSON and MessagePack. */
  readonly protocols?: readonly HubProtocol[];
  /** How long a user with no connection left stays online before `userOffline`. Default 5 000 ms. */
  readonly presenceGraceMs?: number;
  /** How long a node that stopped heartbeating keeps its presence. Default 15 000 ms. */
  readonly presenceLeaseMs?: number;
  /** How often presence renews its lease. Default presenceLeaseMs / 3. */
  readonly presenceHeartbeatIntervalMs?: number;
  /** How many recent presence events the backend's log keeps. Default: the backend's (1 000; NATS 256). */
  readonly presenceEventLogLength?: number;
  /** Receives every backplane error. Default: none (counted, and logged through `logger`). */
  readonly onError?: (error: BackplaneError) => void;
  /** Logs backplane errors (`backplane.error`). Default: silent. */
  readonly logger?: Logger;
  /** How long {@link Backplane.ready} waits for the backend. Default 10 000 ms. */
  readonly readyTimeoutMs?: number;
  /** Test hook of every hub's manager (see `ScaleoutHubLifetimeManagerOptions`). */
  readonly beforeConnectionSubscribe?: (connectionId: string) => Promise<void>;
}

/** What a backend hands {@link createBackplane}. */
export interface CreateBackplaneOptions extends BackplaneCommonOptions {
  /** The backend's name (`redis`, `postgres`, `nats`). */
  readonly backend: string;
  /** Builds each hub's bus. */
  readonly bus: BusFactory;
  /** Builds the node's presence store (given the node id). */
  readonly presence: (nodeId: string) => BackplanePresenceStore;
  /** Runs first in {@link Backplane.ready} (a migration, a connection check); rejects to refuse. */
  readonly start?: () => Promise<void>;
  /** Runs last in {@link Backplane.close} (shared connections of the backend). */
  readonly close?: () => Promise<void>;
}

/**
 * Builds a {@link Backplane}: a {@link ScaleoutHubLifetimeManager} per hub over `options.bus`,
 * the presence store, readiness, health and close.
 */
export function createBackplane(options: CreateBackplaneOptions): Backplane {
  const nodeId = options.nodeId ?? randomUUID();
  const managers = new Map<string, ScaleoutHubLifetimeManager>();
  const presence = options.presence(nodeId);
  let started: Promise<void> | undefined;
  let isReady = false;
  let closing: Promise<void> | undefined;
  const start = async () => {
    await options.start?.();
    await presence.ready;
  };
  return {
    backend: options.backend,
    nodeId,
    presence,
    lifetimeManager(hubPath: string) {
      let manager = managers.get(hubPath);
      if (!manager) {
        manager = new ScaleoutHubLifetimeManager({
          bus: options.bus,
          nodeId,
          hubName: hubPath,
          ...(options.ackTimeoutMs !== undefined ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
          ...(options.protocols ? { protocols: options.protocols } : {}),
          ...(options.onError ? { onError: options.onError } : {}),
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.beforeConnectionSubscribe
            ? { beforeConnectionSubscribe: options.beforeConnectionSubscribe }
            : {}),
        });
        managers.set(hubPath, manager);
      }
      return manager;
    },
    async ready(timeoutMs = options.readyTimeoutMs ?? 10_000) {
      started ??= start();
      await started;
      await Promise.all([...managers.values()].map((m) => m.ready(timeoutMs)));
      isReady = true;
    },
    health(): BackplaneHealth {
      const hubs: Record<string, HubBackplaneHealth> = {};
      let connected = true;
      for (const [path, manager] of managers) {
        const health = manager.health();
        hubs[path] = health;
        connected &&= health.connected;
      }
      return { backend: options.backend, nodeId, ready: isReady && connected && !closing, hubs };
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...managers.values()].map((m) => m.close()));
        await presence.close();
        await options.close?.();
      })();
      return closing;
    },
  };
}

/**
 * The `onError` of a backplane's presence store: backplane errors go to the backplane's `onError`
 * and logger (`backplane.error`, as the lifetime managers'); a listener that threw, or anything
 * when neither is given, becomes a process warning with `warningCode` (`SB_PRESENCE_REDIS` …).
 */
export function presenceErrorHandler(
  options: Pick<BackplaneCommonOptions, 'onError' | 'logger'>,
  warningCode: string,
): (error: unknown, event?: PresenceEvent) => void {
  return (error, event) => {
    if (error instanceof BackplaneError && !event && (options.onError || options.logger)) {
      const fields = { code: error.code, message: error.message, backend: error.backend, presence: true };
      if (error.lossy) options.logger?.error('backplane.error', fields);
      else options.logger?.warn('backplane.error', fields);
      options.onError?.(error);
      return;
    }
    const about = event ? ` on ${event.type} of '${event.userId}'` : '';
    process.emitWarning(`Presence${about}: ${error instanceof Error ? error.message : String(error)}`, {
      code: warningCode,
    });
  };
}

/**
 * The options of a backplane's presence store from {@link BackplaneCommonOptions}: the node id,
 * `presenceGraceMs`, `presenceLeaseMs` and `presenceHeartbeatIntervalMs` as the store's, and
 * errors through {@link presenceErrorHandler} with `warningCode`.
 */
export function backplanePresenceOptions(
  options: BackplaneCommonOptions,
  nodeId: string,
  warningCode: string,
): Omit<ScaleoutPresenceStoreOptions, 'backend'> & { readonly nodeId: string } {
  return {
    nodeId,
    ...(options.presenceGraceMs !== undefined ? { graceMs: options.presenceGraceMs } : {}),
    ...(options.presenceLeaseMs !== undefined ? { leaseMs: options.presenceLeaseMs } : {}),
    ...(options.presenceHeartbeatIntervalMs !== undefined
      ? { heartbeatIntervalMs: options.presenceHeartbeatIntervalMs }
      : {}),
    warningCode,
    onError: presenceErrorHandler(options, warningCode),
  };
}

/** Options of {@link loopbackBackplane}. */
export interface LoopbackBackplaneOptions extends BackplaneCommonOptions {
  /** The shared bus backend of the cluster (every node of it passes the same one). */
  readonly network: LoopbackNetwork;
  /** The shared presence backend of the cluster. */
  readonly presenceNetwork: LoopbackPresenceNetwork;
}

/**
 * The in-memory backplane: several `HubServer`s of one process form a cluster on one
 * {@link LoopbackNetwork} and {@link LoopbackPresenceNetwork} (tests without services).
 *
 * @example
 * ```ts
 * const network = new LoopbackNetwork();
 * const presenceNetwork = new LoopbackPresenceNetwork();
 * const a = new HubServer({ backplane: loopbackBackplane({ network, presenceNetwork, nodeId: 'a' }) });
 * const b = new HubServer({ backplane: loopbackBackplane({ network, presenceNetwork, nodeId: 'b' }) });
 * ```
 */
export function loopbackBackplane(options: LoopbackBackplaneOptions): Backplane {
  return createBackplane({
    ...options,
    backend: 'loopback',
    bus: options.network.bus,
    presence: (nodeId) =>
      new ScaleoutPresenceStore({
        ...backplanePresenceOptions(options, nodeId, 'SB_PRESENCE_LISTENER_FAILED'),
        backend: options.presenceNetwork.backend,
      }),
  });
}
