/**
 * The error listener of an upgrading socket. Node leaves an upgraded socket's errors to whoever
 * listens: without a listener, a client that resets the socket of a refused upgrade (or of one
 * still being authenticated) would crash the process. The guard covers the socket until `ws`
 * holds it; `ws` then listens itself (and destroys the socket on an error), and the guard comes
 * off, so that an open connection keeps one error listener, not a list of two.
 * @module
 */
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';

type GuardListener = (this: Duplex, error: Error) => void;

// One listener per logger, shared by every socket (the socket is `this`): nothing is kept per
// socket, and no closure of the upgrade's scope keeps its request, headers and URL alive.
const listeners = new WeakMap<Logger, GuardListener>();

/** Logs (debug) and destroys the socket on an error, until {@link unguardUpgradedSocket}. */
export function guardUpgradedSocket(socket: Duplex, logger: Logger): void {
  let listener = listeners.get(logger);
  if (listener === undefined) {
    listener = function (this: Duplex, error: Error) {
      logger.debug('http.upgrade_socket_error', { error });
      this.destroy();
    };
    listeners.set(logger, listener);
  }
  socket.on('error', listener);
}

/** Takes the guard off a socket that `ws` now holds (its own error listener is in place). */
export function unguardUpgradedSocket(socket: Duplex, logger: Logger): void {
  const listener = listeners.get(logger);
  if (listener !== undefined) socket.removeListener('error', listener);
}
