/**
 * `widget.js`: the script a host page of another origin links to add the chat. It reads its tag's
 * `data-*` attributes (or waits for `window.Switchboard.init`), builds the widget inside an open
 * shadow root (so the page's styles neither reach in nor leak out) around an iframe named
 * `switchboard-widget` served by the chat server, and hands that frame the user's token from the
 * host page (`data-token-url`, fetched with the page's cookies, or the `token` function). It never
 * touches the page's address or history; it sets the page's title only for the unread badge, and
 * puts it back. A page may hold several tags (the support launcher and an inbox): they share one
 * `window.Switchboard`. Self-contained and wrapped in a function: it imports nothing and defines no
 * global but `Switchboard`, so the build emits it as one classic script.
 * @module
 */

/** The options of {@link SwitchboardApi.init}, as the tag's `data-*` attributes give them too. */
export interface WidgetOptions {
  /** `support` (a launcher and a panel) or `inbox` (rooms and direct messages inside `target`). */
  mode?: 'support' | 'inbox';
  /** Inbox mode: a CSS selector (or the element) to render into. */
  target?: string | Element;
  /** Inbox mode: open this one conversation only. */
  room?: string;
  /** The user's token (the host app's), asked again before it expires; none: a guest. */
  token?: () => Promise<string | null | undefined> | string | null | undefined;
  /** A URL of the host page's own origin answering the token as text (with the page's cookies). */
  tokenUrl?: string;
}

/** `window.Switchboard`. */
export interface SwitchboardApi {
  /** Adds a widget (replacing the one in the same place: the page's launcher, or that element's inbox). */
  init(options: WidgetOptions): void;
  /** Removes every widget of the page: elements, listeners; the title is put back. */
  destroy(): void;
}

type FrameMessage =
  | { sb: 'token-request' }
  | { sb: 'unread'; count: number; notify?: boolean }
  | { sb: 'close' };

const STYLE_SUPPORT = `
:host{all:initial!important;display:block!important;position:fixed!important;right:16px!important;bottom:16px!important;z-index:2147483000!important;font:16px/1.4 system-ui,sans-serif!important}
.launcher{all:unset;box-sizing:border-box;display:flex;align-items:center;justify-content:center;width:56px;height:56px;border-radius:50%;background:#1d4ed8;color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.3);position:relative;font:600 14px/1 system-ui,sans-serif}
.launcher:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.launcher svg{width:26px;height:26px;fill:currentColor}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;box-sizing:border-box;border-radius:10px;background:#b91c1c;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center}
.badge[hidden],.panel[hidden]{display:none}
.panel{position:fixed;right:16px;bottom:84px;width:min(380px,calc(100vw - 32px));height:min(560px,calc(100vh - 108px));border-radius:12px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff}
@media (max-width:480px){.panel{right:8px;width:calc(100vw - 16px);bottom:80px;height:calc(100vh - 96px)}}
iframe{display:block;border:0;width:100%;height:100%;background:#fff}`;

const STYLE_INBOX = `
:host{all:initial!important;display:block!important;width:100%!important;height:100%!important;min-height:420px!important}
iframe{display:block;border:0;width:100%;height:100%;min-height:420px;background:#fff}`;

const ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

// In a function: nothing of the widget's leaks into the page's global scope.
(() => {
  const currentScript = document.currentScript as HTMLScriptElement | null;
  /** The chat server's origin: where this script came from. */
  const scriptOrigin = new URL(currentScript?.src || location.href, location.href).origin;

  /** The widgets on the page, by the element they live in (the body for support mode). */
  const widgets = new Map<Element, () => void>();

  async function fetchToken(options: WidgetOptions): Promise<string | null> {
    try {
      if (options.token) return (await options.token()) || null;
      if (options.tokenUrl) {
        const response = await fetch(options.tokenUrl, { credentials: 'include', cache: 'no-store' });
        if (!response.ok) return null;
        return (await response.text()).trim() || null;
      }
    } catch {
      // No token (signed out, the host's endpoint down): the widget works as a guest.
    }
    return null;
  }

  function beep(): void {
    try {
      const audio = new AudioContext();
      if (audio.state !== 'running') {
        void audio.close();
        return;
      }
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
      tone.onended = () => void audio.close();
    } catch {
      // Sound is a courtesy: a browser without Web Audio stays silent.
    }
  }

  function add(options: WidgetOptions, chatOrigin: string): void {
    const mode = options.mode === 'inbox' ? 'inbox' : 'support';
    let container: Element = document.body;
    if (mode === 'inbox') {
      const target =
        typeof options.target === 'string' ? document.querySelector(options.target) : options.target;
      if (!target) throw new Error(`Switchboard: no element matches ${String(options.target)}`);
      container = target;
    }
    // One widget per place: the support launcher once per page, one inbox per element.
    widgets.get(container)?.();
    const host = document.createElement('div');
    host.setAttribute('data-switchboard-widget', mode);
    const root = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = mode === 'inbox' ? STYLE_INBOX : STYLE_SUPPORT;
    root.append(style);

    const frame = document.createElement('iframe');
    frame.name = 'switchboard-widget';
    frame.title = mode === 'inbox' ? 'Conversations' : 'Support chat';
    const query = new URLSearchParams({ mode, origin: location.origin });
    if (options.room) query.set('room', options.room);
    // Set before the frame is attached: its first load adds no entry to the page's history.
    frame.src = `${chatOrigin}/widget.html?${query}`;

    const title = document.title;
    let open = false;
    let unread = 0;
    const post = (message: unknown) => frame.contentWindow?.postMessage(message, chatOrigin);
    const showTitle = () => {
      document.title = unread > 0 && !open ? `(${unread}) ${title}` : title;
    };

    let launcher: HTMLButtonElement | undefined;
    let badge: HTMLSpanElement | undefined;
    let panel: HTMLDivElement | undefined;
    const setOpen = (value: boolean) => {
      if (!launcher || !panel) return;
      open = value;
      panel.hidden = !open;
      launcher.setAttribute('aria-expanded', String(open));
      launcher.setAttribute('aria-label', open ? 'Close chat' : 'Open chat');
      post({ sb: 'open', open });
      if (open) frame.focus();
      else launcher.focus();
      showTitle();
    };
    if (mode === 'support') {
      launcher = document.createElement('button');
      launcher.type = 'button';
      launcher.className = 'launcher';
      launcher.setAttribute('data-testid', 'widget-launcher');
      launcher.setAttribute('aria-expanded', 'false');
      launcher.setAttribute('aria-controls', 'switchboard-panel');
      launcher.setAttribute('aria-label', 'Open chat');
      launcher.innerHTML = ICON;
      badge = document.createElement('span');
      badge.className = 'badge';
      badge.setAttribute('data-testid', 'widget-unread');
      badge.hidden = true;
      launcher.append(badge);
      panel = document.createElement('div');
      panel.className = 'panel';
      panel.id = 'switchboard-panel';
      panel.hidden = true;
      panel.append(frame);
      launcher.addEventListener('click', () => setOpen(!open));
      root.append(panel, launcher);
    } else {
      root.append(frame);
    }

    const onMessage = (event: MessageEvent) => {
      if (event.source !== frame.contentWindow || event.origin !== chatOrigin) return;
      const data = event.data as FrameMessage;
      if (data?.sb === 'token-request') {
        void fetchToken(options).then((token) => post({ sb: 'token', token }));
      } else if (data?.sb === 'unread' && badge && launcher) {
        const before = unread;
        unread = Math.max(0, Number(data.count) || 0);
        badge.hidden = unread === 0;
        badge.textContent = unread > 99 ? '99+' : String(unread);
        launcher.setAttribute(
          'aria-label',
          `${open ? 'Close' : 'Open'} chat${unread ? `, ${unread} unread` : ''}`,
        );
        if (data.notify && unread > before && !open) beep();
        showTitle();
      } else if (data?.sb === 'close' && open) {
        setOpen(false);
      }
    };
    window.addEventListener('message', onMessage);
    container.append(host);
    widgets.set(container, () => {
      widgets.delete(container);
      window.removeEventListener('message', onMessage);
      host.remove();
      if (mode === 'support') document.title = title;
    });
  }

  const api: SwitchboardApi & { add: typeof add } = {
    init: (options) => add(options, scriptOrigin),
    destroy: () => {
      for (const remove of [...widgets.values()]) remove();
    },
    add,
  };
  // A page may hold several tags (support and inbox): they share the first one's registry.
  const win = window as unknown as { Switchboard?: SwitchboardApi & { add?: typeof add } };
  const shared = win.Switchboard?.add ? win.Switchboard : api;
  win.Switchboard = shared;

  const data = currentScript?.dataset;
  if (data?.mode) {
    const start = () =>
      shared.add?.(
        {
          mode: data.mode as WidgetOptions['mode'],
          target: data.target,
          room: data.room,
          tokenUrl: data.tokenUrl,
        },
        scriptOrigin,
      );
    if (document.body) start();
    else document.addEventListener('DOMContentLoaded', start, { once: true });
  }
})();
