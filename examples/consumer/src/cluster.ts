/**
 * Two hub servers joined by `@switchboard/backplane-redis` as installed from npm: a client of
 * node A reaches a client of node B (everyone, a group, a user) through Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 PREFIX=myapp: node dist/cluster.js
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HubConnection, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { redisBackplane } from '@switchboard/backplane-redis';
import { Hub, HubServer } from '@switchboard/server';

interface RoomClient {
  said(room: string, text: string): void;
}

class RoomHub extends Hub<RoomClient> {
  async Join(room: string): Promise<void> {
    await this.groups.add(this.context.connectionId, room);
  }

  async SayToAll(text: string): Promise<void> {
    await this.clients.all.send('said', '*', text);
  }

  async SayToRoom(room: string, text: string): Promise<void> {
    await this.clients.group(room).send('said', room, text);
  }
}

interface Node {
  readonly hubs: HubServer;
  readonly http: Server;
  readonly url: string;
}

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.PREFIX ?? 'consumer:';

async function startNode(nodeId: string): Promise<Node> {
  const hubs = new HubServer({ backplane: redisBackplane({ url: redisUrl, prefix, nodeId }) });
  hubs.mapHub('/hubs/rooms', RoomHub);
  await hubs.ready();
  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  hubs.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { hubs, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hubs/rooms` };
}

async function stopNode(node: Node): Promise<void> {
  await node.hubs.close();
  node.http.closeAllConnections();
  await new Promise<void>((resolve) => node.http.close(() => resolve()));
}

function nextSaid(connection: HubConnection): Promise<[string, string]> {
  return new Promise((resolve) => {
    const handler = (room: string, text: string): void => {
      connection.off('said', handler);
      resolve([room, text]);
    };
    connection.on('said', handler);
  });
}

const a = await startNode('node-a');
const b = await startNode('node-b');
const connect = async (node: Node): Promise<HubConnection> => {
  const connection = new HubConnectionBuilder().withUrl(node.url).configureLogging(LogLevel.Error).build();
  await connection.start();
  return connection;
};
let failed = false;
try {
  const onA = await connect(a);
  const onB = await connect(b);
  try {
    const everyone = nextSaid(onB);
    await onA.invoke('SayToAll', 'hello from A');
    const toAll = await everyone;

    await onB.invoke('Join', 'lobby');
    const inRoom = nextSaid(onB);
    await onA.invoke('SayToRoom', 'lobby', 'lobby from A');
    const toRoom = await inRoom;

    const result = { toAll, toRoom };
    const ok = toAll.join('|') === '*|hello from A' && toRoom.join('|') === 'lobby|lobby from A';
    if (!ok) failed = true;
    console.log(JSON.stringify({ ...result, ok }));
  } finally {
    await onA.stop();
    await onB.stop();
  }
} finally {
  await stopNode(a);
  await stopNode(b);
}
process.exitCode = failed ? 1 : 0;
