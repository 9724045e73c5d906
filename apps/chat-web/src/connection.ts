/**
 * The page's connection to `/hubs/chat`: the official client with MessagePack, a reconnect policy
 * that never gives up (capped exponential backoff), a restart loop for the cases the client's own
 * reconnect does not cover (a first start that fails, a close without reconnect), and
 * "reconnect now".
 * @module
 */
import { type HubConnection, HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';

/** Where the connection stands, as the banner shows it. */
export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 10_000;

/** The wait before attempt `n` (0-based): 0, 0.5 s, 1 s, 2 s … capped, with a little jitter. */
export function retryDelay(attempt: number): number {
  if (attempt === 0) return 0;
  const base = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Callbacks of a {@link ChatLink}. */
export interface ChatLinkEvents {
  /** The state changed. */
  state(state: LinkState): void;
  /** Connected again after a loss: time to catch up. */
  resumed(): void;
  /** The server refused the token (signed out elsewhere, expired): the link has stopped. */
  unauthorized(): void;
  /**
   * Whether this browser is still signed in. Asked before each (re)connect: after a sign-out in
   * another tab the server may end this tab's connection before the tab hears of the sign-out, and
   * a reconnect with the revoked token would only be refused.
   */
  signedIn?(): boolean;
}

/** The hub connection with its reconnect behaviour. */
export class ChatLink {
  /** The official client's connection; handlers are registered on it directly. */
  readonly hub: HubConnection;
  private current: LinkState = 'stopped';
  private stopping = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private everConnected = false;

  constructor(
    token: () => string,
    private readonly events: ChatLinkEvents,
  ) {
    this.hub = new HubConnectionBuilder()
      .withUrl('/hubs/chat', { accessTokenFactory: token })
      .withHubProtocol(new MessagePackHubProtocol())
      .withAutomaticReconnect({
        nextRetryDelayInMilliseconds: (ctx) => retryDelay(ctx.previousRetryCount + 1),
      })
      .configureLogging(LogLevel.None)
      .build();
    this.hub.onreconnecting(() => this.set('reconnecting'));
    this.hub.onreconnected(() => {
      this.set('connected');
      this.events.resumed();
    });
    this.hub.onclose(() => {
      if (this.stopping) return;
      this.set('reconnecting');
      this.schedule();
    });
  }

  /** The current state. */
  get state(): LinkState {
    return this.current;
  }

  /** Connects, retrying until it succeeds or {@link stop} is called. */
  start(): void {
    this.stopping = false;
    this.attempt = 0;
    this.set(this.everConnected ? 'reconnecting' : 'connecting');
    void this.tryStart();
  }

  /** Skips the wait: tries at once (also while the client's own reconnect is waiting). */
  async reconnectNow(): Promise<void> {
    if (this.current === 'connected') return;
    clearTimeout(this.timer);
    if (this.hub.state === HubConnectionState.Reconnecting) {
      // Stopping ends the client's wait; onclose then restarts at once.
      this.attempt = 0;
      await this.hub.stop();
      return;
    }
    if (this.hub.state === HubConnectionState.Disconnected) {
      this.attempt = 0;
      await this.tryStart();
    }
  }

  /** Disconnects for good (sign out). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.hub.stop();
    this.set('stopped');
  }

  /** Invokes a hub method. */
  invoke<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.hub.invoke<T>(method, ...args);
  }

  private async tryStart(): Promise<void> {
    if (this.stopping || this.hub.state !== HubConnectionState.Disconnected) return;
    if (this.events.signedIn && !this.events.signedIn()) {
      this.stopping = true;
      this.set('stopped');
      this.events.unauthorized();
      return;
    }
    try {
      await this.hub.start();
    } catch (error) {
      if (isUnauthorized(error)) {
        this.stopping = true;
        this.set('stopped');
        this.events.unauthorized();
      } else if (!this.stopping) {
        this.schedule();
      }
      return;
    }
    const resumed = this.everConnected;
    this.everConnected = true;
    this.attempt = 0;
    this.set('connected');
    if (resumed) this.events.resumed();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tryStart(), retryDelay(this.attempt++));
  }

  private set(state: LinkState): void {
    if (state === this.current) return;
    this.current = state;
    this.events.state(state);
  }
}

function isUnauthorized(error: unknown): boolean {
  const status = (error as { statusCode?: number } | undefined)?.statusCode;
  return status === 401 || /\b401\b|Unauthorized/.test(String((error as Error | undefined)?.message));
}
