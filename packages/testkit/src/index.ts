/**
 * @switchboard/testkit: helpers that start servers and official clients in tests, and (with the
 * issues that need them) the shared conformance suites every lifetime manager and presence store
 * runs.
 * @module
 */

export { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium, serveBrowserAssets } from './browser.js';
export { type ClientOptions, connectClient, deferred, waitFor, within } from './clients.js';
export * from './cluster/index.js';
export { ManualTimeProvider } from './manual-time-provider.js';
export { eachTransportAndProtocol, TRANSPORT_MATRIX, type TransportCell } from './matrix.js';
export {
  type NegotiateResponse,
  negotiate,
  RawClient,
  type RawClientOptions,
  type RawClose,
  type RawFrame,
  UpgradeRefusedError,
} from './raw-client.js';
export { requireService, type Service } from './services.js';
export * from './suites/index.js';
export { startTestServer, type TestServer } from './test-server.js';
