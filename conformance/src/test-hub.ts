/**
 * The hubs of the reference functional-test app (docs/protocol.md#conformance): `TestHub` and
 * `HubWithAuthorization`. Method names are a contract with outside test suites: they mirror the
 * reference's PascalCase names (clients match them case-insensitively) and are never renamed.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Hub, type HubMethodsOptions, type UploadStream } from '@switchboard/server';

/**
 * Thrown by `ThrowException`: its name is what detailed error texts show, so the client sees
 * `An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: <msg>`
 * exactly as from the .NET app.
 */
export class InvalidOperationException extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOperationException';
  }
}

/** The object `SendComplexObject` returns, in the JSON form (PascalCase, base64 bytes, ISO date). */
const COMPLEX_OBJECT_JSON = {
  ByteArray: 'AQID',
  DateTime: '2000-01-01T00:00:00Z',
  Guid: '00010203-0405-0607-0706-050403020100',
  IntArray: [1, 2, 3],
  String: 'hello world',
} as const;

/**
 * The reference `TestHub` (its client result is the `/clientresult/{id}` route, in server.ts), plus
 * the group and user senders and `GetUserIdentifier` that outside checks use to exercise routing,
 * and the presence queries of issue #4.
 */
export class TestHub extends Hub {
  /** The node id `GetNodeId` answers (the server maps a subclass that sets it). */
  static nodeId = 'single';

  /** Streaming methods that are not async generators (see each). */
  static methods: HubMethodsOptions = {
    InfiniteStream: { stream: true },
    StreamThrowException: { stream: true },
  };

  Echo(message: string): string {
    return message;
  }

  /** The id of the node (with `--workers`, the worker) that serves this connection. */
  GetNodeId(): string {
    return (this.constructor as typeof TestHub).nodeId;
  }

  /** The public connection id (never the connection token). */
  GetCallerConnectionId(): string {
    return this.context.connectionId;
  }

  /** `numRedirects` from the query of the request that opened the transport (0 when absent). */
  GetNumRedirects(): number {
    const raw = this.context.request.query.get('numRedirects');
    const value = raw === null ? 0 : Number.parseInt(raw, 10);
    if (!Number.isInteger(value)) {
      throw new InvalidOperationException(`The query value numRedirects '${raw}' is not an integer.`);
    }
    return value;
  }

  ThrowException(message: string): never {
    throw new InvalidOperationException(message);
  }

  /** Sends the caller `Message(message)`. */
  async InvokeWithString(message: string): Promise<void> {
    await this.clients.client(this.context.connectionId).send('Message', message);
  }

  /** Sends the caller `CustomObject(customObject)` (the reference test sends `{Name, Value}`). */
  async SendCustomObject(customObject: unknown): Promise<void> {
    await this.clients.client(this.context.connectionId).send('CustomObject', customObject);
  }

  /** `WebSockets`, `ServerSentEvents` or `LongPolling`. */
  GetActiveTransportName(): string {
    return this.context.transport;
  }

  EchoComplexObject(complexObject: unknown): unknown {
    return complexObject;
  }

  /**
   * A fixed object. JSON carries the bytes as base64 and the date as ISO text; MessagePack as bin
   * and a timestamp, as the .NET serializers write them.
   */
  SendComplexObject(): unknown {
    if (this.context.protocol === 'messagepack') {
      return {
        ...COMPLEX_OBJECT_JSON,
        ByteArray: new Uint8Array([1, 2, 3]),
        DateTime: new Date(Date.UTC(2000, 0, 1)),
        IntArray: [1, 2, 3],
      };
    }
    return { ...COMPLEX_OBJECT_JSON, IntArray: [...COMPLEX_OBJECT_JSON.IntArray] };
  }

  /** The Content-Type of the request that opened the transport, or null (none on an upgrade). */
  GetContentTypeHeader(): string | null {
    return headerValue(this.context.request.headers['content-type']);
  }

  /** A header of the request that opened the transport (name case-insensitive), or null. */
  GetHeader(name: string): string | null {
    return headerValue(this.context.request.headers[String(name).toLowerCase()]);
  }

  /** A cookie of the request that opened the transport, or null. */
  GetCookie(name: string): string | null {
    return parseCookies(headerValue(this.context.request.headers.cookie)).get(name) ?? null;
  }

  /** The caller's user id (from a bearer token), or null when anonymous. */
  GetUserIdentifier(): string | null {
    return this.context.userIdentifier ?? null;
  }

  async JoinGroup(groupName: string): Promise<void> {
    await this.groups.add(this.context.connectionId, groupName);
  }

  async LeaveGroup(groupName: string): Promise<void> {
    await this.groups.remove(this.context.connectionId, groupName);
  }

  /** Issue #5: adds any connection, on any node of the cluster, to a group. */
  async AddConnectionToGroup(connectionId: string, groupName: string): Promise<void> {
    await this.groups.add(connectionId, groupName);
  }

  /** Issue #5: removes any connection, on any node of the cluster, from a group. */
  async RemoveConnectionFromGroup(connectionId: string, groupName: string): Promise<void> {
    await this.groups.remove(connectionId, groupName);
  }

  async SendToGroup(groupName: string, message: unknown): Promise<void> {
    await this.clients.group(groupName).send('Send', message);
  }

  async SendToOthersInGroup(groupName: string, message: unknown): Promise<void> {
    await this.clients.othersInGroup(groupName).send('Send', message);
  }

  async SendToUser(userId: string, message: unknown): Promise<void> {
    await this.clients.user(userId).send('Send', message);
  }

  async SendToAll(message: unknown): Promise<void> {
    await this.clients.all.send('Send', message);
  }

  async SendToOthers(message: unknown): Promise<void> {
    await this.clients.others.send('Send', message);
  }

  async SendToConnection(connectionId: string, message: unknown): Promise<void> {
    await this.clients.client(connectionId).send('Send', message);
  }

  /** Issue #5: `Send(message)` to every connection except the given ones (`clients.allExcept`). */
  async SendToAllExcept(excludedConnectionIds: string[], message: unknown): Promise<void> {
    await this.clients.allExcept(excludedConnectionIds).send('Send', message);
  }

  /** Issue #5: `Send(message)` to the given connections, on any node (`clients.clients`). */
  async SendToConnections(connectionIds: string[], message: unknown): Promise<void> {
    await this.clients.clients(connectionIds).send('Send', message);
  }

  /** Issue #5: `Send(message)` to the members of any of the groups, once each (`clients.groups`). */
  async SendToGroups(groupNames: string[], message: unknown): Promise<void> {
    await this.clients.groups(groupNames).send('Send', message);
  }

  /** Issue #5: `Send(message)` to a group except the given connections (`clients.groupExcept`). */
  async SendToGroupExcept(
    groupName: string,
    excludedConnectionIds: string[],
    message: unknown,
  ): Promise<void> {
    await this.clients.groupExcept(groupName, excludedConnectionIds).send('Send', message);
  }

  /** Issue #5: `Send(message)` to every connection of any of the users (`clients.users`). */
  async SendToUsers(userIds: string[], message: unknown): Promise<void> {
    await this.clients.users(userIds).send('Send', message);
  }

  /** A stream of `"a"`, `"b"`, `"c"`. */
  async *Stream(): AsyncGenerator<string> {
    yield 'a';
    yield 'b';
    yield 'c';
  }

  /**
   * 0, 1, 2, ... every 10 ms until the client cancels it (or disconnects). On cancellation the
   * caller gets `StreamCanceled()`, as from the reference's cancellation-token callback. Not a
   * generator, so the callback is registered when the method is called, even if the client's
   * CancelInvocation arrives before the first item is asked for.
   */
  InfiniteStream(): AsyncIterable<number> {
    const signal = this.invocationSignal;
    const connection = this.context.connectionAborted;
    const caller = this.clients.client(this.context.connectionId);
    const notify = () => {
      // After a disconnect there is no one to tell.
      if (!connection.aborted) caller.send('StreamCanceled').catch(() => undefined);
    };
    if (signal.aborted) notify();
    else signal.addEventListener('abort', notify, { once: true });
    return countUntilAborted(signal);
  }

  /** Concatenates an upload stream of strings; a client error ends it with `HubException: <error>`. */
  async StreamingConcat(source: UploadStream<string>): Promise<string> {
    let text = '';
    for await (const part of source) text += part;
    return text;
  }

  /** A stream that completes at once. */
  async *EmptyStream(): AsyncGenerator<never> {}

  /** Throws before a stream exists, so the caller sees `...invoking 'StreamThrowException'...`. */
  StreamThrowException(message: string): AsyncIterable<number> {
    throw new InvalidOperationException(message);
  }

  /** Every online user id (server-wide, within the presence grace period), sorted. */
  GetOnlineUsers(): Promise<string[]> {
    return this.presence.onlineUsers();
  }

  /** How many live connections the user has (every hub, every node). */
  async GetUserConnectionCount(userId: string): Promise<number> {
    return (await this.presence.userConnections(userId)).length;
  }

  /** How many connections of authenticated users are in a group of this hub. */
  GetGroupConnectionCount(groupName: string): Promise<number> {
    return this.presence.groupConnectionCount(groupName);
  }

  /** The users with a connection in a group of this hub, sorted. */
  GetGroupUsers(groupName: string): Promise<string[]> {
    return this.presence.groupUsers(groupName);
  }
}

/** The reference `HubWithAuthorization`, mapped at `/authorizedhub` with `authorize: true`. */
export class HubWithAuthorization extends Hub {
  Echo(message: string): string {
    return message;
  }
}

/** 0, 1, 2, ... every 10 ms until `signal` aborts. */
async function* countUntilAborted(signal: AbortSignal): AsyncGenerator<number> {
  for (let i = 0; !signal.aborted; i++) {
    yield i;
    try {
      await sleep(10, undefined, { signal });
    } catch {
      return;
    }
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Parses a Cookie header (`a=1; b=2`); values are percent-decoded as ASP.NET does. */
export function parseCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // not percent-encoded: keep it as it came
    }
    if (name && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}
