/**
 * What the in-box bus says over a process's IPC channel (node:cluster, `child_process.fork`): the
 * messages between the worker side ({@link InboxClient} in inbox-bus.ts) and the primary side
 * ({@link InboxBroker} in inbox-broker.ts). Every message carries `sbInbox`, so that an
 * application's own IPC messages on the same channel pass by untouched.
 * @module
 */
import type { PresenceConnection } from '../presence/presence-store.js';
import type { PresenceLogEvent, RemotePresenceChange } from './presence-backend.js';

/**
 * One end of an IPC channel: a cluster `Worker` or a `ChildProcess` seen from the primary,
 * `process` seen from a worker. Only these three methods are used.
 */
export interface InboxPort {
  /** Sends a message on the channel (`undefined` on a process without one). */
  send?(message: InboxMessage): boolean;
  /** Receives messages, and `disconnect` once the channel closed. */
  on(event: 'message' | 'disconnect', listener: (message: unknown) => void): unknown;
  /** Stops receiving. */
  off(event: 'message' | 'disconnect', listener: (message: unknown) => void): unknown;
}

/**
 * Passes every message of `port` to `onMessage` until the channel closes (then `onDisconnect`
 * runs once); the answer stops listening early. What the primary's hosts (the in-box broker, the
 * shared limits, the user-group memberships) each do with a worker's channel.
 */
export function listenOnPort(
  port: Pick<InboxPort, 'on' | 'off'>,
  onMessage: (message: unknown) => void,
  onDisconnect: () => void = () => {},
): () => void {
  const detach = () => {
    port.off('message', onMessage);
    port.off('disconnect', detach);
    onDisconnect();
  };
  port.on('message', onMessage);
  port.on('disconnect', detach);
  return detach;
}

/** Bytes as they travel: as they are on an `advanced` channel, base64 on a `json` one. */
export type WireBytes = Uint8Array | string;

/** The presence operations a worker may run on the primary's presence state. */
export const PRESENCE_OPERATIONS = [
  'assert',
  'heartbeat',
  'add',
  'remove',
  'group',
  'leave',
  'readEvents',
  'isOnline',
  'onlineUsers',
  'userConnections',
  'groupConnectionCount',
  'groupConnections',
  'groupUsers',
  'groupUserCount',
] as const;

/** One of {@link PRESENCE_OPERATIONS}. */
export type PresenceOperation = (typeof PRESENCE_OPERATIONS)[number];

/** Worker to primary. Requests with an `id` get one {@link InboxReply}. */
export type InboxRequest =
  | { readonly sbInbox: 'hello'; readonly binary: boolean }
  | {
      readonly sbInbox: 'sub' | 'unsub';
      readonly id: number;
      readonly node: string;
      readonly hub: string;
      readonly ch: string;
    }
  | {
      readonly sbInbox: 'pub';
      readonly id: number;
      readonly node: string;
      readonly hub: string;
      readonly ch: string;
      readonly data: WireBytes;
    }
  | { readonly sbInbox: 'ping'; readonly id: number }
  | { readonly sbInbox: 'closebus'; readonly node: string; readonly hub: string }
  | {
      readonly sbInbox: 'pstart';
      readonly id: number;
      readonly node: string;
      readonly token: string;
      readonly graceMs: number;
      readonly leaseMs: number;
    }
  | {
      readonly sbInbox: 'pcall';
      readonly id: number;
      readonly node: string;
      readonly token: string;
      readonly op: PresenceOperation;
      readonly args: readonly (string | number | boolean | PresenceConnection | object)[];
    }
  | { readonly sbInbox: 'pclose'; readonly node: string; readonly token: string };

/** The answer to a request. */
export interface InboxReply {
  readonly sbInbox: 'reply';
  readonly id: number;
  readonly value?: unknown;
  /** Set when the operation failed: its message. */
  readonly error?: string;
}

/** Primary to worker. */
export type InboxPush =
  | InboxReply
  | {
      readonly sbInbox: 'msg';
      /** The nodes of that process subscribed to the channel. */
      readonly nodes: readonly string[];
      readonly hub: string;
      readonly ch: string;
      readonly data: WireBytes;
    }
  | {
      readonly sbInbox: 'pevents';
      readonly node: string;
      readonly token: string;
      readonly events: readonly PresenceLogEvent[];
    }
  | {
      readonly sbInbox: 'pchange';
      readonly node: string;
      readonly token: string;
      readonly change: RemotePresenceChange;
    };

/** Anything the in-box bus sends. */
export type InboxMessage = InboxRequest | InboxPush;

/** Whether an IPC message is one of the in-box bus's. */
export function isInboxMessage(message: unknown): message is InboxMessage {
  return typeof message === 'object' && message !== null && 'sbInbox' in message;
}

/** Bytes for a channel: as they are when `binary`, else base64. */
export function toWire(bytes: Uint8Array, binary: boolean): WireBytes {
  return binary ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Bytes from a channel. */
export function fromWire(data: WireBytes): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'base64') : data;
}
