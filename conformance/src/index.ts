/**
 * @switchboard/conformance: the SignalR reference functional-test app
 * (docs/protocol.md#conformance) on Switchboard, for outside test suites and for our own tests.
 * @module
 */

export { echoConnection } from './echo.js';
export {
  applyCors,
  echoRedirectLocation,
  isNegotiatePath,
  negotiateCookies,
  serveConformanceRoute,
} from './endpoints.js';
export { type ConformanceOptions, type ParsedArgs, parseConformanceArgs, USAGE } from './options.js';
export {
  type ConformanceServer,
  type ConformanceServerOptions,
  noWebSocketsTransports,
  startConformanceServer,
} from './server.js';
export { HubWithAuthorization, InvalidOperationException, parseCookies, TestHub } from './test-hub.js';
