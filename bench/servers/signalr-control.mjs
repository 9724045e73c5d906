// The SignalR JSON control's work, shared by its bench peer (ws-signalr.mjs) and the callgrind
// harness (bench/callgrind/server.mjs): the least a SignalR server on `ws` with the JSON hub
// protocol must do, with no hub layer. The negotiate answer, the handshake, and per message the
// records split at 0x1E, each parsed with JSON.parse; `echo` answered with its Completion
// (`JSON.stringify` of the result), `broadcast` written as one Invocation text to every client.
//
// Echo and broadcast only, no error handling a real server needs: a measuring control, not a
// server to build on.
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';

/** The negotiate (version 1) answer for a fresh connection id: WebSockets only. */
export function signalrNegotiateBody(id) {
  return {
    negotiateVersion: 1,
    connectionId: id,
    connectionToken: randomBytes(16).toString('base64url'),
    availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
  };
}

/**
 * Serves the control's WebSocket side at `/bench` on `http` (whose POST /bench/negotiate answers
 * with {@link signalrNegotiateBody}).
 * @param {import('node:http').Server} http
 */
export function attachSignalrControl(http) {
  const wss = new WebSocketServer({ server: http, path: '/bench', perMessageDeflate: false });
  const TEXT = { binary: false };
  const shaken = new WeakSet();
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const text = data.toString();
      if (!shaken.has(ws)) {
        shaken.add(ws);
        ws.send('{}\x1e', TEXT);
        return;
      }
      for (
        let start = 0, end = text.indexOf('\x1e');
        end !== -1;
        start = end + 1, end = text.indexOf('\x1e', start)
      ) {
        const message = JSON.parse(text.slice(start, end));
        if (message.type !== 1) continue;
        if (message.target === 'echo') {
          ws.send(
            `{"type":3,"invocationId":${JSON.stringify(message.invocationId)},"result":${JSON.stringify(message.arguments[0])}}\x1e`,
            TEXT,
          );
        } else if (message.target === 'broadcast') {
          const out = Buffer.from(
            `{"type":1,"target":"broadcast","arguments":[${JSON.stringify(message.arguments[0])}]}\x1e`,
          );
          for (const c of wss.clients) c.send(out, TEXT);
        }
      }
    });
  });
  return wss;
}
