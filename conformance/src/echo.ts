/**
 * The functional-test app's `/echo` endpoint (EchoConnectionHandler, docs/protocol.md#conformance): a
 * raw connection, not a hub. Normal negotiate and transports, no handshake; every payload received
 * goes back unchanged as one transport message (text as text, binary as binary).
 * @module
 */
import type { RawConnection } from '@switchboard/server';
import { parseCookies } from './test-hub.js';

/**
 * Echoes every payload of `connection` back to it. As the reference handler does, a connection
 * whose request carries no `testCookie` (the cookie negotiate sets) is ended at once: that is how
 * the suite's "honors withCredentials flag" tests see that a browser sent no cookies cross-site.
 */
export function echoConnection(connection: RawConnection): void {
  const cookie = connection.request.headers.cookie;
  if (!parseCookies(typeof cookie === 'string' ? cookie : null).has('testCookie')) {
    connection.close();
    return;
  }
  connection.onMessage((data, isBinary) => connection.send(isBinary ? data : data.toString('utf8')));
}
