/**
 * The transport × protocol matrix the official clients support (docs/protocol.md#conformance):
 * WebSockets, Server-Sent Events and long polling with JSON, and WebSockets and long polling with
 * MessagePack (Server-Sent Events carry text only).
 * @module
 */
import { describe } from 'node:test';
import { HttpTransportType, type IHubProtocol } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import type { ClientOptions } from './clients.js';

/** One cell of the matrix. */
export interface TransportCell {
  /** `WebSockets/json` and the like, for test names. */
  readonly name: string;
  /** The transport as the server names it (`context.transport`). */
  readonly transport: 'WebSockets' | 'ServerSentEvents' | 'LongPolling';
  /** The client's transport flag. */
  readonly transportType: HttpTransportType;
  /** The hub protocol's name. */
  readonly protocol: 'json' | 'messagepack';
  /** Official-client options that pin this transport and protocol (a new protocol object each call). */
  clientOptions(extra?: ClientOptions): ClientOptions;
}

function cell(transport: TransportCell['transport'], protocol: TransportCell['protocol']): TransportCell {
  const transportType = HttpTransportType[transport];
  return {
    name: `${transport}/${protocol}`,
    transport,
    transportType,
    protocol,
    clientOptions(extra: ClientOptions = {}): ClientOptions {
      const hubProtocol: IHubProtocol | undefined =
        protocol === 'messagepack' ? new MessagePackHubProtocol() : undefined;
      return { ...extra, transport: transportType, ...(hubProtocol ? { protocol: hubProtocol } : {}) };
    },
  };
}

/** Every transport and protocol pair the official clients can use, in a fixed order. */
export const TRANSPORT_MATRIX: readonly TransportCell[] = [
  cell('WebSockets', 'json'),
  cell('ServerSentEvents', 'json'),
  cell('LongPolling', 'json'),
  cell('WebSockets', 'messagepack'),
  cell('LongPolling', 'messagepack'),
];

/**
 * Declares the same tests once per matrix cell, each cell in its own `describe` named after it.
 *
 * @example
 * ```ts
 * eachTransportAndProtocol((cell) => {
 *   test('echo', async () => {
 *     const client = await connectClient(url, cell.clientOptions());
 *     ...
 *   });
 * });
 * ```
 */
export function eachTransportAndProtocol(fn: (cell: TransportCell, index: number) => void): void {
  TRANSPORT_MATRIX.forEach((c, i) => {
    describe(c.name, () => fn(c, i));
  });
}
