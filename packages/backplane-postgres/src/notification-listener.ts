/**
 * A dedicated LISTEN connection (of a bus, of presence) on the core's {@link KeepConnected}: one
 * `pg.Client` that listens on a channel and is opened again with backoff whenever it drops.
 * @module
 */
import { KeepConnected } from '@switchboard/server/scaleout';
import pg from 'pg';
import { quoteIdent } from './migrations.js';

/** What {@link listen} needs. */
export interface ListenOptions {
  /** How to connect (with its own `application_name`). */
  readonly config: pg.ClientConfig;
  /** The channel to LISTEN on. */
  readonly channel: string;
  /** Receives each notification's payload. */
  readonly onNotification: (payload: string) => void;
  /** Runs after each LISTEN, before the connection counts as up; a rejection drops it and retries. */
  readonly onListen?: (client: pg.Client) => Promise<void>;
  /** Called after each successful LISTEN; `reconnect` is false only for the first attempt's. */
  readonly onUp: (reconnect: boolean) => void;
  /** Receives every connection or LISTEN failure (it retries by itself). */
  readonly onError: (error: unknown) => void;
}

/** Keeps one LISTEN connection up until closed; {@link KeepConnected.start} starts it. */
export function listen(o: ListenOptions): KeepConnected<pg.Client> {
  return new KeepConnected<pg.Client>({
    open: async (lost) => {
      const client = new pg.Client(o.config);
      client.on('error', lost);
      client.on('end', () => lost());
      client.on('notification', (message) => {
        if (message.channel === o.channel && message.payload !== undefined) o.onNotification(message.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${quoteIdent(o.channel)}`);
        await o.onListen?.(client);
        return client;
      } catch (error) {
        client.removeAllListeners('end'); // not a loss: the failure is the rejection
        await client.end().catch(() => undefined);
        throw error;
      }
    },
    close: (client) => client.end(),
    onUp: (_, reconnect) => o.onUp(reconnect),
    onError: o.onError,
  });
}
