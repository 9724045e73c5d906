/**
 * `@switchboard/server/scaleout`: what backplane authors build on. A backend writes a
 * {@link Bus} (the transport) and a {@link PresenceBackend} (a few atomic operations); the core
 * does the rest (docs/scale-out.md). The in-memory loopback backend for tests is in
 * `@switchboard/server/testing`.
 * @module
 */

// The limits the workers of one machine share (docs/server.md#limits-with-workers).
export { LimitBroker, type LimitsPort } from '../limits/limit-broker.js';
export { clusterSharedLimits, InboxLimits } from '../limits/shared-limits.js';
export {
  backendError,
  checkNumberOption,
  definedOptions,
  type LifetimeManagerWrapper,
  type LifetimeManagerWrapperOptions,
  lifetimeManagerWrapper,
  newBusCounters,
  type PresenceStoreWrapper,
  type PresenceStoreWrapperOptions,
  presenceAssertionJson,
  presenceStoreWrapper,
  type ReplayWindowOptions,
  remoteChangeOf,
  replayWindow,
  reportBusError,
  reportPresenceError,
} from './adapter-kit.js';
export type { Backplane, BackplaneHealth, HubBackplaneHealth, ScaleoutCounters } from './backplane.js';
export { BatchWriter, type BatchWriterOptions } from './batch-writer.js';
export type {
  Bus,
  BusContext,
  BusCounters,
  BusFactory,
  BusReceiver,
  BusStatus,
  EntryPosition,
  LogEntry,
  LogPosition,
  PositionCheck,
  PublishOptions,
  ReplayLog,
} from './bus.js';
export {
  ALL_CHANNEL,
  type AllChannel,
  type Channel,
  type ChannelKind,
  type ConnectionChannel,
  channelName,
  connectionChannel,
  type GroupChannel,
  groupChannel,
  type NodeChannel,
  nodeChannel,
  parseChannelName,
  type UserChannel,
  userChannel,
} from './channels.js';
export {
  type BackplaneCommonOptions,
  type BackplanePresenceStore,
  backplanePresenceOptions,
  type CreateBackplaneOptions,
  createBackplane,
  presenceErrorHandler,
} from './create-backplane.js';
export {
  DocumentPresenceBackend,
  type PresenceDocument,
  type PresenceDocumentHandlers,
  type PresenceDocumentStore,
} from './document-presence.js';
export {
  type AckEnvelope,
  type CloseEnvelope,
  decodeEnvelope,
  ENVELOPE_VERSION,
  type Envelope,
  type EnvelopeBase,
  type EnvelopeBody,
  EnvelopeVersionError,
  encodeEnvelope,
  envelopeMessage,
  type GroupEnvelope,
  type MessageEnvelope,
  messageFrames,
  type ResultEnvelope,
} from './envelope.js';
export {
  BackplaneError,
  type BackplaneErrorCode,
  type BackplaneErrorCodeOnly,
  backplaneErrors,
} from './errors.js';
export {
  InboxBroker,
  type InboxBrokerCounters,
  type InboxBrokerOptions,
} from './inbox-broker.js';
export {
  type InboxBackplaneOptions,
  InboxClient,
  type InboxNode,
  inboxBackplane,
  inboxNode,
} from './inbox-bus.js';
export type { InboxPort } from './inbox-messages.js';
export {
  InboxUserGroupHost,
  type InboxUserGroupHostOptions,
  InboxUserGroupStore,
} from './inbox-user-group-store.js';
export {
  Intervals,
  KeepConnected,
  type KeepConnectedOptions,
  type RetryCallOptions,
  type RetryUntilOptions,
  retryCall,
  retryUntil,
} from './keep-connected.js';
export {
  LogCursor,
  type LogCursorCounters,
  type LogCursorOptions,
  type LogCursorPage,
  type LogCursorRow,
  newLogCursorCounters,
} from './log-cursor.js';
/**
 * The presence transitions in memory, as one state (the loopback backend's network, exported for
 * tests as `LoopbackPresenceNetwork` from `@switchboard/server/testing`): a backend that keeps the
 * cluster's presence as one document (NATS key-value, updated by revision) restores it from a
 * snapshot, runs one operation and stores the new snapshot.
 */
export {
  LoopbackPresenceNetwork as PresenceStateMachine,
  type LoopbackPresenceSnapshot as PresenceSnapshot,
} from './loopback-presence.js';
export { loadMigrationFiles, type SqlFile } from './migration-files.js';
export { OriginOrder } from './origin-order.js';
export type {
  LeaseResult,
  LogHead,
  PresenceAssertion,
  PresenceBackend,
  PresenceBackendContext,
  PresenceBackendFactory,
  PresenceBackendReceiver,
  PresenceLogEvent,
  RemotePresenceChange,
  TransitionResult,
} from './presence-backend.js';
export { PublishQueue, type PublishQueueOptions, waitUntil, withTimeout } from './publish-queue.js';
export { BusBase, QueuedBus } from './queued-bus.js';
export {
  ScaleoutHubLifetimeManager,
  type ScaleoutHubLifetimeManagerOptions,
} from './scaleout-hub-lifetime-manager.js';
export {
  type ScaleoutPresenceCounters,
  ScaleoutPresenceStore,
  type ScaleoutPresenceStoreOptions,
} from './scaleout-presence-store.js';
export { StreamSequence } from './stream-sequence.js';
export {
  DocumentUserGroupStore,
  MemoryUserGroupState,
  MemoryUserGroupStore,
  type UserGroupDocument,
  type UserGroupMemberships,
  type UserGroupStore,
} from './user-group-store.js';
