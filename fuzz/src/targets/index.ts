/**
 * Every fuzz target, by name.
 * @module
 */
import type { FuzzTarget } from '../engine.js';
import { chatValidationTarget } from './chat.js';
import { longPollingTarget, serverSentEventsTarget } from './http.js';
import {
  binaryFramingTarget,
  handshakeTarget,
  jsonTarget,
  messagePackTarget,
  textFramingTarget,
} from './protocol.js';

/** The targets in the order `npm run fuzz` runs them. */
export const targets: readonly FuzzTarget[] = [
  jsonTarget,
  messagePackTarget,
  handshakeTarget,
  textFramingTarget,
  binaryFramingTarget,
  longPollingTarget,
  serverSentEventsTarget,
  chatValidationTarget,
];
