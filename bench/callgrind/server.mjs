// A peer for bench/callgrind/run.mjs, run under valgrind's callgrind by it.
//
//   node bench/callgrind/server.mjs switchboard   a HubServer (packages/server/dist, or
//                                                 SWITCHBOARD_SERVER_ENTRY) with one hub at /bench
//                                                 whose `echo` returns its argument
//   node bench/callgrind/server.mjs ws            the raw `ws` peer doing the same exchanges: a text
//                                                 frame is sent back as it came; a POST is answered
//                                                 with a small JSON body (a fresh id), then the
//                                                 client upgrades
//   node bench/callgrind/server.mjs ws-signalr    the SignalR JSON control (bench/servers/
//                                                 signalr-control.mjs): negotiate, handshake, each
//                                                 record JSON.parse'd, the Completion written with
//                                                 JSON.stringify, on `ws`, with no hub layer
//
// Listens on 127.0.0.1, port 0, and prints one line `{"port":N}` on stdout once listening.
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { negotiateServer } from '../servers/common.mjs';
import { attachSignalrControl, signalrNegotiateBody } from '../servers/signalr-control.mjs';

const kind = process.argv[2];
// The raw peers answer POST /bench/negotiate themselves: `ws` with a small JSON body holding a
// fresh id, `ws-signalr` with a negotiate (version 1) answer.
const http =
  kind === 'switchboard'
    ? createServer()
    : negotiateServer(kind === 'ws-signalr' ? signalrNegotiateBody : (id) => ({ id }));

if (kind === 'switchboard') {
  const entry =
    process.env.SWITCHBOARD_SERVER_ENTRY ??
    new URL('../../packages/server/dist/index.js', import.meta.url).pathname;
  const { HubServer, Hub } = await import(pathToFileURL(entry).href);
  class BenchHub extends Hub {
    echo(x) {
      return x;
    }
  }
  const hubs = new HubServer();
  hubs.mapHub('/bench', BenchHub);
  hubs.attach(http);
} else if (kind === 'ws') {
  const { WebSocketServer } = await import('ws');
  const TEXT = { binary: false };
  const wss = new WebSocketServer({ server: http, path: '/bench', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => ws.send(data, TEXT));
  });
} else if (kind === 'ws-signalr') {
  attachSignalrControl(http);
} else {
  throw new Error(`unknown peer ${kind}: switchboard, ws or ws-signalr`);
}

http.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
  process.stdout.write(`${JSON.stringify({ port: http.address().port })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
