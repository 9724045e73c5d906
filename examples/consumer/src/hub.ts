/**
 * A hub served by `@switchboard/server` as installed from npm, reached by the official
 * `@microsoft/signalr` client over WebSockets and over long polling.
 *
 *   node dist/hub.js     prints one JSON line per transport and exits 0 when every check passed
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTransportType, HubConnectionBuilder, LogLevel, Subject } from '@microsoft/signalr';
import { jsonHubProtocol, MessageType } from '@switchboard/protocol';
import { Hub, HubException, HubServer } from '@switchboard/server';

interface GreeterClient {
  greeted(name: string): void;
}

class GreeterHub extends Hub<GreeterClient> {
  Greet(name: string): string {
    if (name.length === 0) throw new HubException('A name is required.');
    return `Hello, ${name}!`;
  }

  async Announce(name: string): Promise<void> {
    await this.clients.all.send('greeted', name);
  }

  async *Count(to: number): AsyncIterable<number> {
    for (let i = 1; i <= to; i++) yield i;
  }

  async Sum(numbers: AsyncIterable<number>): Promise<number> {
    let total = 0;
    for await (const n of numbers) total += n;
    return total;
  }
}

const hubs = new HubServer().mapHub('/hubs/greeter', GreeterHub);
const http = createServer((_req, res) => {
  res.writeHead(404).end();
});
hubs.attach(http);
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hubs/greeter`;

const transports = [
  ['WebSockets', HttpTransportType.WebSockets],
  ['LongPolling', HttpTransportType.LongPolling],
] as const;

let failed = false;
try {
  for (const [name, transport] of transports) {
    const connection = new HubConnectionBuilder()
      .withUrl(url, { transport })
      .configureLogging(LogLevel.Warning)
      .build();
    const greeted = new Promise<string>((resolve) => connection.on('greeted', resolve));
    await connection.start();
    try {
      const greeting = await connection.invoke<string>('Greet', 'Ada');
      const error = await connection.invoke('Greet', '').then(
        () => 'no error',
        (e: Error) => e.message,
      );
      await connection.send('Announce', 'Grace');
      const announced = await greeted;
      const counted: number[] = [];
      await new Promise<void>((resolve, reject) =>
        connection.stream<number>('Count', 3).subscribe({
          next: (n) => counted.push(n),
          complete: resolve,
          error: reject,
        }),
      );
      const upload = new Subject<number>();
      const sum = connection.invoke<number>('Sum', upload);
      for (const n of [1, 2, 3, 4]) upload.next(n);
      upload.complete();
      const result = {
        transport: name,
        connectedWith: connection.connectionId !== null,
        greeting,
        error,
        announced,
        counted,
        sum: await sum,
      };
      const ok =
        result.greeting === 'Hello, Ada!' &&
        result.error.endsWith('HubException: A name is required.') &&
        result.announced === 'Grace' &&
        result.counted.join(',') === '1,2,3' &&
        result.sum === 10;
      if (!ok) failed = true;
      console.log(JSON.stringify({ ...result, ok }));
    } finally {
      await connection.stop();
    }
  }
  // The protocol package on its own: a frame written and read back.
  const bytes = jsonHubProtocol.writeMessage({ type: MessageType.Ping });
  const [ping] = jsonHubProtocol.parseMessages(bytes).messages;
  if (ping?.type !== MessageType.Ping) failed = true;
  console.log(JSON.stringify({ protocol: jsonHubProtocol.name, frame: bytes.toString('utf8') }));
} finally {
  await hubs.close();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}
process.exitCode = failed ? 1 : 0;
