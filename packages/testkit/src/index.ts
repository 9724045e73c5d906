/**
 * @switchboard/testkit: helpers that start servers and official clients in tests, and (with the
 * issues that need them) the shared conformance suites every lifetime manager and presence store
 * runs.
 * @module
 */
export { type ClientOptions, connectClient, deferred, waitFor } from './clients.js';
export { startTestServer, type TestServer } from './test-server.js';
