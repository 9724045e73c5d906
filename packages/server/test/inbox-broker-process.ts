// Test helper: a real process hosting an in-box broker (fixtures/inbox-broker-process.ts), and the
// channel to it that the test's nodes use.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { InboxPort } from '../src/scaleout/inbox-messages.ts';

/** A broker in a child process; `port` is the channel the test's nodes pass to `inboxNode`. */
export class BrokerProcess {
  private constructor(readonly child: ChildProcess) {}

  static async start(): Promise<BrokerProcess> {
    const child = fork(fileURLToPath(new URL('./fixtures/inbox-broker-process.ts', import.meta.url)), {
      execArgv: ['--conditions=source', '--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await BrokerProcess.answer(child);
    return new BrokerProcess(child);
  }

  get port(): InboxPort {
    return this.child as unknown as InboxPort;
  }

  /** A fresh broker in the same process (a new, empty cluster). */
  async reset(): Promise<void> {
    const answered = BrokerProcess.answer(this.child);
    this.child.send({ reset: true });
    await answered;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.disconnect();
    await exited;
  }

  private static answer(child: ChildProcess): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (typeof message === 'object' && message !== null && 'reset' in message) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) => reject(new Error(`the broker process exited (${code})`));
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
  }
}
