/**
 * The hub the examples serve: `Echo(text)` returns its argument, `Send(text)` broadcasts client
 * method `message(text)` to everyone connected.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hub } from '@switchboard/server';

interface ChatClient {
  message(text: string): void;
}

export class ChatHub extends Hub<ChatClient> {
  Echo(text: string): string {
    return text;
  }

  async Send(text: string): Promise<void> {
    await this.clients.all.send('message', text);
  }
}

/** Where every example maps {@link ChatHub}. */
export const HUB_PATH = '/hubs/chat';

/** What each example's `start` returns. */
export interface RunningExample {
  /** The base URL, `http://127.0.0.1:<port>`; the hub is at `${url}${HUB_PATH}`. */
  readonly url: string;
  /** Drains the hub connections, then stops the HTTP server. */
  close(): Promise<void>;
}

/** Whether the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && fileURLToPath(moduleUrl) === resolve(script);
}

/** Runs an example's `start` as a program: `PORT` or 3000, stops on SIGINT/SIGTERM. */
export async function runMain(start: (port: number) => Promise<RunningExample>): Promise<void> {
  const example = await start(Number(process.env.PORT ?? 3000));
  console.log(`Listening on ${example.url} (hub at ${example.url}${HUB_PATH}, GET /health)`);
  const stop = () => void example.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
