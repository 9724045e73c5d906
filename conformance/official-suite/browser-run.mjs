// Runs the browser half of the official SignalR client functional tests (Microsoft's files, put in
// ./ts by hand: see README.md) in Debian's chromium against a running conformance server, the way
// the reference runs them with karma: the tests bundled into one script, on a page of another
// origin, the server URLs handed over as karma's client args (`--server "<https>;<http>"`).
//
//   node browser-run.mjs <http-url> [<https-url> <certificate-pem-file>]
//
// Writes out/results.json (every spec with its status and failure messages) and out/console.log,
// and prints the counts and each failure. JASMINE_DIR picks another jasmine-core's lib folder.
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const [httpUrl, httpsUrl = '', certFile] = process.argv.slice(2);
if (!httpUrl) {
  console.error('usage: node browser-run.mjs <http-url> [<https-url> <certificate-pem-file>]');
  process.exit(2);
}

await build({
  entryPoints: ['browser-entry.ts'],
  bundle: true,
  outfile: 'out/tests.js',
  platform: 'browser',
  format: 'iife',
  target: 'es2019',
  sourcemap: 'inline',
  define: { global: 'globalThis' },
  logLevel: 'warning',
});

const jasmineDir = process.env.JASMINE_DIR ?? 'node_modules/jasmine-core/lib/jasmine-core/';
const read = (name) => readFileSync(join(jasmineDir, name));
// jasmine-core 4 and later boot in two files; 3.x in one (boot.js, started on window.onload).
const twoBoots = existsSync(join(jasmineDir, 'boot0.js'));
const files = {
  '/jasmine.js': read('jasmine.js'),
  '/jasmine-html.js': read('jasmine-html.js'),
  '/boot0.js': twoBoots ? read('boot0.js') : read('boot.js'),
  '/boot1.js': twoBoots ? read('boot1.js') : '',
  '/tests.js': readFileSync('out/tests.js'),
};
const servers = JSON.stringify(`${httpsUrl};${httpUrl}`);
const page = `<!doctype html><html><head><meta charset="utf-8"><title>SignalR functional tests</title>
<script src="/jasmine.js"></script><script src="/jasmine-html.js"></script><script src="/boot0.js"></script>
<script>
  // What karma gives the page: its client args; and, as the reference's webpack build does, a
  // process object for the suite's platform checks.
  window.__karma__ = { config: { args: ['--server', ${servers}] } };
  window.process = { platform: 'browser', env: {} };
  window.__results = [];
  window.__done = false;
  jasmine.getEnv().configure({ random: false });
  jasmine.getEnv().addReporter({
    specDone: (r) => window.__results.push({
      name: r.fullName, status: r.status, errors: r.failedExpectations.map((e) => e.message),
    }),
    jasmineDone: (r) => { window.__done = r.overallStatus; },
  });
</script>
<script src="/boot1.js"></script><script src="/tests.js"></script></head><body></body></html>`;

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
    return;
  }
  const body = files[path];
  res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/javascript; charset=utf-8' });
  res.end(body);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const args = [];
if (certFile) {
  // Trust exactly the server's self-signed key (the SHA-256 of its SPKI); other certificate
  // checks stay on.
  const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  args.push(`--ignore-certificate-errors-spki-list=${createHash('sha256').update(spki).digest('base64')}`);
}
// A normal profile in a fresh folder, as karma's Chrome launcher starts the browser. This chromium
// blocks third-party cookies by default, and the suite's HTTPS cookie tests are cross-site (the page
// on http, the server on https; written when Chrome allowed them): the profile's own setting allows
// them (Settings > Privacy and security > Third-party cookies > Allow).
const profile = mkdtempSync(join(tmpdir(), 'signalr-functional-chromium-'));
mkdirSync(join(profile, 'Default'));
writeFileSync(
  join(profile, 'Default', 'Preferences'),
  JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  args,
});
const tab = context.pages()[0] ?? (await context.newPage());
const log = [];
tab.on('console', (message) => log.push(message.text()));
await tab.goto(`${origin}/`);
await tab.waitForFunction(() => window.__done !== false, null, { timeout: 30 * 60_000, polling: 1000 });
const results = await tab.evaluate(() => window.__results);
const userAgent = await tab.evaluate(() => navigator.userAgent);
await context.close();
server.close();

mkdirSync('out', { recursive: true });
writeFileSync('out/results.json', JSON.stringify({ userAgent, results }, null, 1));
writeFileSync('out/console.log', log.join('\n'));
const count = (...statuses) => results.filter((r) => statuses.includes(r.status)).length;
console.log(`${userAgent}`);
console.log(
  `${results.length} registered, ${count('passed')} passed, ${count('failed')} failed, ` +
    `${count('excluded', 'pending')} skipped`,
);
for (const r of results.filter((x) => x.status === 'failed'))
  console.log(`FAIL ${r.name}\n    ${r.errors.join('\n    ')}`);
