/**
 * The widget frame's side of the talk with `widget.js` on the host page: the user's token (asked of
 * the host page, again before it expires) and what the launcher shows (unread count, close).
 * Messages go only to the host page's origin and are taken only from the parent window.
 * @module
 */

/** What the host page tells the frame. */
export type HostMessage = { sb: 'token'; token: string | null } | { sb: 'open'; open: boolean };

/** The frame's end of the link to the host page. */
export class HostLink {
  private waiting: ((token: string | null) => void)[] = [];
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** The newest token the host page gave (null: a guest). */
  token: string | null = null;
  /** Whether the panel is open (inbox mode: always). */
  open: boolean;

  constructor(
    private readonly origin: string,
    private readonly onOpen: (open: boolean) => void,
    initiallyOpen: boolean,
  ) {
    this.open = initiallyOpen;
    window.addEventListener('message', (event: MessageEvent) => {
      if (event.source !== window.parent || event.origin !== this.origin) return;
      const data = event.data as HostMessage;
      if (data?.sb === 'token') {
        this.token = typeof data.token === 'string' && data.token ? data.token : null;
        this.scheduleRefresh();
        for (const resolve of this.waiting.splice(0)) resolve(this.token);
      } else if (data?.sb === 'open') {
        this.open = Boolean(data.open);
        this.onOpen(this.open);
      }
    });
  }

  /** Whether a host page is there to ask (the frame is embedded by `widget.js`). */
  get embedded(): boolean {
    return window.parent !== window && this.origin !== '';
  }

  /** Asks the host page for the user's token (null when it has none, or does not answer in 15 s). */
  requestToken(): Promise<string | null> {
    if (!this.embedded) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== done);
        resolve(this.token);
      }, 15_000);
      const done = (token: string | null) => {
        clearTimeout(timer);
        resolve(token);
      };
      this.waiting.push(done);
      this.send({ sb: 'token-request' });
    });
  }

  /** Tells the host page something (unread count, close). */
  send(message: unknown): void {
    if (this.embedded) window.parent.postMessage(message, this.origin);
  }

  /** Asks for a new token a minute before this one expires. */
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const expires = expiryOf(this.token);
    if (expires === undefined) return;
    const wait = Math.max(5_000, expires - Date.now() - 60_000);
    this.refreshTimer = setTimeout(() => void this.requestToken(), Math.min(wait, 2 ** 31 - 1));
  }
}

/** A JWT's expiry in ms since the epoch, if it says. */
export function expiryOf(token: string | null): number | undefined {
  if (!token) return undefined;
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
