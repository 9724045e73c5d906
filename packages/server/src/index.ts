/**
 * @switchboard/server: a SignalR-compatible hub server for Node.js.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { Hub, HubServer, jwtBearerAuthenticator } from '@switchboard/server';
 *
 * interface ChatClient { receive(user: string, text: string): void }
 *
 * class ChatHub extends Hub<ChatClient> {
 *   async send(text: string) {
 *     await this.clients.all.send('receive', this.context.userIdentifier ?? 'anonymous', text);
 *   }
 * }
 *
 * const hubs = new HubServer({ authenticate: jwtBearerAuthenticator({ secret: 'change me' }) });
 * hubs.mapHub('/hubs/chat', ChatHub);
 * const http = createServer();
 * hubs.attach(http);
 * http.listen(3000);
 * ```
 * @module
 */
export {
  AuthenticationUnavailableError,
  type Authenticator,
  bearerToken,
  type JwtBearerOptions,
  jwtBearerAuthenticator,
  NAME_IDENTIFIER_CLAIM,
  type Principal,
} from './auth/authentication.js';
export { type JwtClaims, type JwtFailure, type JwtResult, signJwt, verifyJwt } from './auth/jwt.js';
export {
  type ClusterizeOptions,
  type ClusterPrimary,
  type ClusterWorker,
  type ClusterWorkerApp,
  type ClusterWorkerContext,
  clusterize,
  type PrivateListener,
  workerCount,
} from './clusterize.js';
export type {
  ConnectionTransport,
  TransportCloseKind,
  TransportReceiver,
} from './connection/connection-transport.js';
export { HubConnectionContext } from './connection/hub-connection-context.js';
export type { RawConnection, RawConnectionHandler } from './connection/raw-connection.js';
export {
  buildErrorMessage,
  exceptionTypeName,
  HubException,
  type ServerErrorCode,
  SwitchboardError,
  serverErrors,
} from './errors.js';
export { CLIENT_REQUEST_HEADERS, type CorsOptions } from './http/cors.js';
export type { ForwardingCounters } from './http/forwarding/forwarder.js';
export { CaseInsensitiveQuery, type HttpRequestInfo } from './http/http-request-info.js';
export {
  type NegotiateRateLimit,
  negotiateLimitDefaults,
  type TrustProxy,
} from './http/negotiate-limits.js';
export { type ConnectionStats, HubServer } from './hub-server.js';
export type { ArgumentSchema, StandardSchemaResult, StandardSchemaV1 } from './hubs/argument-schema.js';
export type { AuthorizationRequirement } from './hubs/authorization.js';
export type {
  ClientInvokeOptions,
  ClientMethodArgs,
  ClientMethodResult,
  ClientProxy,
  DynamicClientMethods,
  GroupManager,
  HubCallerClients,
  HubClients,
  SingleClientProxy,
} from './hubs/client-proxy.js';
export { Hub, type HubActivator, type HubClass, type HubClassWithDependencies } from './hubs/hub.js';
export type { HubCallerContext } from './hubs/hub-caller-context.js';
export type { HubConnections, HubContext } from './hubs/hub-context.js';
export type { HubMethodOptions, HubMethodsOptions } from './hubs/hub-descriptor.js';
export type { HubFilter, HubInvocationContext, HubLifetimeContext } from './hubs/hub-filter.js';
export { type RateLimit, type RateLimitOptions, rateLimitDefaults } from './hubs/rate-limiter.js';
export type { UploadStream } from './hubs/upload-stream.js';
export { ClientResultTracker } from './lifetime/client-result-tracker.js';
export { PendingAcks, RemoteInvocations } from './lifetime/cluster-waits.js';
export { DefaultHubLifetimeManager } from './lifetime/default-hub-lifetime-manager.js';
export { DelegatingHubLifetimeManager } from './lifetime/delegating-hub-lifetime-manager.js';
export type {
  ClientInvocationOptions,
  CloseConnectionOptions,
  HubConnectionRef,
  HubLifetimeManager,
} from './lifetime/hub-lifetime-manager.js';
export { LocalConnections, type LocalEntry } from './lifetime/local-connections.js';
export { SerializedHubMessage } from './lifetime/serialized-hub-message.js';
export type { CappedKey, SharedLimits } from './limits/shared-limits.js';
export {
  createJsonLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  redactUrl,
  silentLogger,
} from './logger.js';
export {
  type ConnectionCloseStatus,
  CounterMetrics,
  type HubMetrics,
  type MetricsSnapshot,
  noopMetrics,
  UNKNOWN_METHOD_LABEL,
} from './metrics.js';
export {
  type ConnectingHook,
  type ConnectingOutcome,
  type ConnectionEndpointOptions,
  type HubOptions,
  type HubServerOptions,
  hubOptionDefaults,
  type MapHubOptions,
  type ResolvedHubOptions,
  SUPPORTED_TRANSPORTS,
  serverOptionDefaults,
  type TransportType,
} from './options.js';
export {
  DefaultPresenceStore,
  type DefaultPresenceStoreOptions,
  type DeviceHint,
  type DeviceType,
  type HubPresence,
  InMemoryPresenceCluster,
  type InMemoryPresenceOptions,
  type NewPresenceConnection,
  type PresenceConnection,
  type PresenceEvent,
  type PresenceListener,
  type PresenceStore,
  parseUserAgent,
  presenceDefaults,
  scopedGroup,
} from './presence/index.js';
export type {
  Backplane,
  BackplaneHealth,
  HubBackplaneHealth,
  ScaleoutCounters,
} from './scaleout/backplane.js';
export { BackplaneError, type BackplaneErrorCode, backplaneErrors } from './scaleout/errors.js';
export { liveMeter, OpenTelemetryHubMetrics, TELEMETRY_SCOPE } from './telemetry/hub-instruments.js';
export { systemTimeProvider, type TimeProvider, type TimerHandle } from './time-provider.js';
