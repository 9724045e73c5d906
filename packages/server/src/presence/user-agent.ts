/**
 * A small user-agent reader for presence device hints: good enough to show "on mobile" next to a
 * name, not a full UA database. Rules are checked in order; the first that matches decides.
 * @module
 */
import type { DeviceHint, DeviceType } from './presence-store.js';

// The official SignalR clients outside a browser send `User-Agent: Microsoft SignalR/<major.minor>
// (<version>; <os>; <runtime>; <runtime version>)`, e.g. `Microsoft SignalR/10.0 (10.0.11; Linux;
// NodeJS; 20.20.2)`. In a browser the JavaScript client puts the same shape, with runtime
// `Browser`, in `X-SignalR-User-Agent`, and the real browser's UA stays in `User-Agent`.
const SIGNALR = /^Microsoft SignalR\/[^(]*\(([^)]*)\)/i;

const BOT =
  /(\w*(?:bot|crawler|spider|slurp)\w*|HeadlessChrome|facebookexternalhit|curl|Wget|python-requests|Go-http-client|okhttp|node-fetch|undici|axios|PostmanRuntime)/i;

// Browser names, most specific first: Edge and Opera also say Chrome, Chrome also says Safari.
const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bCriOS\//, 'Chrome'],
  [/\bFxiOS\//, 'Firefox'],
  [/\bFirefox\//, 'Firefox'],
  [/\b(?:Chrome|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

/**
 * Reads a device hint from a `User-Agent` header.
 *
 * - An official SignalR client outside a browser (Node, .NET, Java) is a program rather than a
 *   person's browser: `bot`, named `SignalR <runtime>` (`SignalR NodeJS`). The one exception is an
 *   app on a phone OS (Android, iOS), which reports `mobile`. A hub that knows better (a desktop
 *   app on the .NET client) can supply its own hint.
 * - Crawlers, headless browsers and HTTP libraries (curl, python-requests …) are `bot`.
 * - iPad is `tablet`; Android without `Mobile` is `tablet` (Google's convention); iPhone, iPod,
 *   Android with `Mobile` and other `Mobi` agents are `mobile`. An iPad in desktop mode sends a
 *   Mac user agent and reads as `desktop`: there is no telling them apart from the header.
 * - Windows, macOS, Linux and ChromeOS browsers are `desktop`; anything else is `unknown`.
 *
 * @example
 * ```ts
 * parseUserAgent(request.headers['user-agent']); // { type: 'desktop', browser: 'Firefox' }
 * ```
 */
export function parseUserAgent(userAgent: string | undefined): DeviceHint {
  const ua = userAgent?.trim() ?? '';
  if (ua === '') return { type: 'unknown', browser: undefined };

  const signalr = SIGNALR.exec(ua);
  if (signalr) {
    const [, os = '', runtime = ''] = signalr[1]!.split(';').map((part) => part.trim());
    if (/^browser$/i.test(runtime)) return { type: 'unknown', browser: undefined };
    const browser = runtime === '' || /^unknown/i.test(runtime) ? 'SignalR' : `SignalR ${runtime}`;
    return { type: /android|ios|iphone|ipad/i.test(os) ? 'mobile' : 'bot', browser };
  }

  const bot = BOT.exec(ua);
  if (bot) return { type: 'bot', browser: bot[1] };

  return { type: deviceType(ua), browser: BROWSERS.find(([pattern]) => pattern.test(ua))?.[1] };
}

function deviceType(ua: string): DeviceType {
  if (/\biPad\b|\bTablet\b|\bKindle\b|\bSilk\//.test(ua)) return 'tablet';
  if (/\b(?:iPhone|iPod)\b/.test(ua)) return 'mobile';
  if (/\bAndroid\b/.test(ua)) return /\bMobile\b/.test(ua) ? 'mobile' : 'tablet';
  if (/Mobi|Windows Phone|BlackBerry|Opera Mini/.test(ua)) return 'mobile';
  if (/Windows NT|Macintosh|Mac OS X|X11|Linux|CrOS/.test(ua)) return 'desktop';
  return 'unknown';
}
