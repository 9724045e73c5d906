/**
 * The functional-test app's `/echo` endpoint (EchoConnectionHandler, docs/protocol.md#conformance): a
 * raw connection, not a hub. Normal negotiate and transports, no handshake; every payload received
 * goes back unchanged as one transport message (text as text, binary as binary).
 * @module
 */
import type { RawConnection } from '@switchboard/server';

/** Echoes every payload of `connection` back to it. */
export function echoConnection(connection: RawConnection): void {
  connection.onMessage((data, isBinary) => connection.send(isBinary ? data : data.toString('utf8')));
}
