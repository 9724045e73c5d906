/**
 * The one object per cluster node an application passes to `new HubServer({ backplane })`: it
 * gives every hub its lifetime manager and the server its presence store, is awaited before
 * serving ({@link Backplane.ready}), reports {@link Backplane.health} for `/readyz` and
 * `/metrics`, and is closed by `hubs.close()`. Backends build one with `createBackplane` from a
 * {@link BusFactory} and a presence store.
 * @module
 */
import type { HubLifetimeManager } from '../lifetime/hub-lifetime-manager.js';
import type { PresenceStore } from '../presence/presence-store.js';
import type { BusCounters } from './bus.js';

/** What the core counts on top of a bus's own counters, per hub and node. */
export interface ScaleoutCounters extends BusCounters {
  /** Messages delivered from a log read (a gap, or a catch-up after a reconnect). */
  replayed: number;
  /** Entries dropped because they had been delivered already. */
  duplicatesDropped: number;
  /** Messages known lost (beyond the replay window). */
  lost: number;
  /** Channel logs found started anew after a reconnect. */
  logResets: number;
  /** Envelopes of a version this node does not understand (or not envelopes): never delivered. */
  unknownVersions: number;
  /** Channels this node subscribes to now. */
  subscribedChannels: number;
}

/** One hub's part of {@link BackplaneHealth}. */
export interface HubBackplaneHealth {
  /** Whether the hub's bus is up. */
  readonly connected: boolean;
  /** Publishes waiting for the backend. */
  readonly queued: number;
  /** The hub's counters. */
  readonly counters: Readonly<ScaleoutCounters>;
}

/** What {@link Backplane.health} reports. */
export interface BackplaneHealth {
  /** The backend's name. */
  readonly backend: string;
  /** This node's id. */
  readonly nodeId: string;
  /**
   * Whether the node should receive traffic: {@link Backplane.ready} completed and every hub's bus
   * is connected. `/readyz` answers 503 while false.
   */
  readonly ready: boolean;
  /** Per hub path. */
  readonly hubs: Readonly<Record<string, HubBackplaneHealth>>;
}

/** A cluster node's backplane: lifetime managers, presence, readiness, health, close. */
export interface Backplane {
  /** The backend's name (`redis`, `postgres`, `nats`, `loopback`). */
  readonly backend: string;
  /** This node's id, unique in the cluster. */
  readonly nodeId: string;
  /** The presence store of the node (shared by every hub of the server). */
  readonly presence: PresenceStore;
  /**
   * The lifetime manager of a hub (created on the first call for a path; the backplane closes it).
   * `HubServer.mapHub` calls it.
   */
  lifetimeManager(hubPath: string): HubLifetimeManager;
  /**
   * Resolves once the backend is connected, the schema (if any) is ready, presence has joined and
   * every hub created so far subscribes to its channels; rejects when it cannot start (a failed
   * migration). `HubServer.ready()` awaits it; serve after it.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** The live state, for `/readyz` and `/metrics`. */
  health(): BackplaneHealth;
  /** Closes every hub's manager and the presence store. `HubServer.close()` calls it. */
  close(): Promise<void>;
}
