// Every client-side wire adapter the load generator knows, by protocol name (see protocols.mjs
// for the adapter shape). `ping()` returns the frame a client sends to keep its connection alive,
// or null where the server pings and the client only answers (Socket.IO) or nothing pings (ws).
import { signalrMsgpack } from './msgpack.mjs';
import { closeAgents, wsAdapters } from './protocols.mjs';
import { closeHttpAgents, signalrLongPolling, signalrSse, socketioPolling } from './protocols-http.mjs';

export const adapters = {
  ...wsAdapters,
  'signalr-msgpack': signalrMsgpack,
  'signalr-sse': signalrSse,
  'signalr-lp': signalrLongPolling,
  'socketio-lp': socketioPolling,
};

/** Closes the keep-alive agents of negotiate requests and of the HTTP transports. */
export function closeAllAgents() {
  closeAgents();
  closeHttpAgents();
}
