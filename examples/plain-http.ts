/**
 * A hub server on a plain Node `http.Server`: `hubs.attach(server)` serves the hub routes and
 * WebSocket upgrades and hands every other request to the server's own listener.
 *
 *   node --conditions=source --import tsx examples/plain-http.ts     (PORT=3000 by default)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubServer } from '@switchboard/server';
import { ChatHub, HUB_PATH, isMain, type RunningExample, runMain } from './chat-hub.ts';

export async function start(port = 0): Promise<RunningExample> {
  const hubs = new HubServer().mapHub(HUB_PATH, ChatHub);
  const server = createServer((req, res) => {
    // Only requests that are not for a hub get here.
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Not Found');
  });
  hubs.attach(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await hubs.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (isMain(import.meta.url)) await runMain(start);
