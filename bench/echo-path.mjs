// Switchboard's own work per echo, without the kernel, the socket's streams or the `ws` library:
// one real connection to a real HubServer (JSON protocol, the bench's `echo` hub method), then
// the invocation bytes handed straight to its WebSocket transport (what `ws` hands it for each
// text message) in a loop, the Completion frame counted and dropped instead of written. Beside it,
// in the same process, the JSON built-ins that any SignalR server in Node must run per echo (decode
// the text, JSON.parse it, JSON.stringify the result, encode the Completion): the codec's floor.
//
//   npm run build
//   node bench/echo-path.mjs [--echoes 2000000] [--reps 5]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval 50 bench/echo-path.mjs
//   node bench/callgrind/top.mjs /tmp/prof/*.cpuprofile      # where the time goes
//
// It replaces the transport's `write` of that one connection (to drop the output), the only way
// to run the path without a socket; the numbers are ns per echo of this process alone, for
// comparing builds and finding costs, not a figure of a server under load
// (docs/benchmarks.md#what-the-echo-gap-is-made-of-2026-12-07).
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const { values: opt } = parseArgs({
  options: { echoes: { type: 'string', default: '2000000' }, reps: { type: 'string', default: '5' } },
});
const N = Number(opt.echoes);
const REPS = Number(opt.reps);
const dist = new URL('../packages/server/dist/', import.meta.url);
const { HubServer, Hub } = await import(new URL('index.js', dist).href);
const { WebSocketTransport } = await import(new URL('http/transports/websocket-transport.js', dist).href);

// The transport of the one connection, as it attaches.
let transport;
const attach = WebSocketTransport.prototype.attach;
WebSocketTransport.prototype.attach = function (receiver) {
  transport = this;
  return attach.call(this, receiver);
};

class BenchHub extends Hub {
  echo(x) {
    return x;
  }
}
const http = createServer();
// Every message of the loop is read in the turn it arrives (the default budget defers past 64).
const hubs = new HubServer({ maxMessagesPerTurn: 1e9 });
hubs.mapHub('/bench', BenchHub);
hubs.attach(http);
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const client = new WebSocket(`ws://127.0.0.1:${http.address().port}/bench`);
await new Promise((resolve, reject) => client.on('open', resolve).on('error', reject));
client.send('{"protocol":"json","version":1}\x1e');
await new Promise((resolve) => client.once('message', resolve));
if (!transport) throw new Error('no WebSocket transport attached');

let frames = 0;
let bytes = 0;
transport.write = (data) => {
  frames++;
  bytes += data.length;
};

// The official client's text for an invocation of echo with a 128-character string.
const payload = 'x'.repeat(128);
const messages = [];
for (let i = 0; i < 64; i++)
  messages.push(
    Buffer.from(`{"arguments":["${payload}"],"invocationId":"${i}","target":"echo","type":1}\x1e`),
  );

function timed(fn) {
  for (let i = 0; i < 200_000; i++) fn(i); // compiled before it is timed
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / N;
}

let sink;
const codecFloor = (i) => {
  const bytesIn = messages[i & 63];
  const message = JSON.parse(bytesIn.toString('utf8', 0, bytesIn.length - 1));
  const text = `{"type":3,"invocationId":${JSON.stringify(message.invocationId)},"result":${JSON.stringify(message.arguments[0])}}\x1e`;
  sink = Buffer.from(text, 'utf8');
};
const switchboard = (i) => transport.handleMessage(messages[i & 63], false);

const rows = [];
for (let rep = 1; rep <= REPS; rep++) {
  const before = frames;
  const sb = timed(switchboard);
  if (frames - before !== N + 200_000)
    throw new Error(`${frames - before} Completions for ${N + 200_000} echoes`);
  const floor = timed(codecFloor);
  rows.push({ rep, switchboardNs: sb, codecFloorNs: floor });
  console.log(
    `rep ${rep}: Switchboard ${sb.toFixed(0)} ns/echo, JSON built-ins alone ${floor.toFixed(0)} ns`,
  );
  await new Promise((resolve) => setImmediate(resolve));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sb = median(rows.map((r) => r.switchboardNs));
const floor = median(rows.map((r) => r.codecFloorNs));
console.log(
  `median: Switchboard ${sb.toFixed(0)} ns/echo, of which JSON built-ins about ${floor.toFixed(0)} ` +
    `(Completion ${Math.round(bytes / frames)} bytes framed); the rest, ${(sb - floor).toFixed(0)} ns, is the hub layer`,
);
globalThis.sink = sink;
client.terminate();
await hubs.close();
http.close();
