import {
  type HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  type IHttpConnectionOptions,
  type IHubProtocol,
  LogLevel,
} from '@microsoft/signalr';

/** Options for {@link connectClient}. */
export interface ClientOptions extends IHttpConnectionOptions {
  /** A hub protocol other than JSON (MessagePack). */
  protocol?: IHubProtocol;
  /** Log level of the official client; default None. */
  logLevel?: LogLevel;
  /** Don't start the connection. */
  noStart?: boolean;
  /** Transport(s) to use. */
  transport?: HttpTransportType;
  /** Reconnect automatically after these delays (ms), as `withAutomaticReconnect(delays)`. */
  automaticReconnect?: number[];
  /**
   * Ask for stateful reconnect, as `withStatefulReconnect()` (with its buffer size when given): a
   * dropped WebSocket comes back with nothing lost.
   */
  statefulReconnect?: boolean | { bufferSize: number };
}

/**
 * Builds (and by default starts) a connection with the official `@microsoft/signalr` client,
 * used as it is.
 */
export async function connectClient(url: string, options: ClientOptions = {}): Promise<HubConnection> {
  const { protocol, logLevel, noStart, automaticReconnect, statefulReconnect, ...http } = options;
  let builder = new HubConnectionBuilder().withUrl(url, http).configureLogging(logLevel ?? LogLevel.None);
  if (protocol) builder = builder.withHubProtocol(protocol);
  if (automaticReconnect) builder = builder.withAutomaticReconnect(automaticReconnect);
  if (statefulReconnect) {
    builder = builder.withStatefulReconnect(statefulReconnect === true ? undefined : statefulReconnect);
  }
  const connection = builder.build();
  if (!noStart) await connection.start();
  return connection;
}

/**
 * Waits until `predicate` holds (it may answer by a promise: a read from a store), polling every
 * few milliseconds, or rejects after `timeoutMs` naming `what`.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `promise`, or a rejection naming `what` after `timeoutMs`: a step that hangs says which it was. */
export function within<T>(
  promise: Promise<T>,
  timeoutMs = 5_000,
  what = 'the promise to settle',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise that the caller resolves later, with its resolver. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
