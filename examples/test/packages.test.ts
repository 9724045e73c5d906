// The packages as people install them: every package under packages/ is packed with `npm pack`,
// its tarball checked (README, types, exports, nothing that points nowhere), then the published
// ones are installed from their tarballs into a fresh project outside the workspace
// (examples/consumer copied to a temporary folder; no links), type-checked in strict mode, and run:
// a hub reached by the official client over WebSockets and long polling, and a two-node cluster
// on Redis. Registry dependencies come from npm at the versions of the repository's lock file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CLUSTER_REDIS_URL, deleteRedisPrefix, requireService } from '@switchboard/testkit';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const consumerSource = join(root, 'examples/consumer');
const packageDirs = readdirSync(join(root, 'packages')).filter((d) =>
  existsSync(join(root, 'packages', d, 'package.json')),
);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  exports?: Record<string, Record<string, string>>;
  files?: string[];
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Packed {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly tarball: string;
  /** Where the tarball was unpacked (its `package/` folder). */
  readonly unpacked: string;
  readonly files: string[];
}

/** npm without the settings of an npm that may have started this test (`npm test` sets `npm_*`). */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

async function sh(command: string, args: string[], cwd: string, env = npmEnv()) {
  try {
    return await run(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout}\n${e.stderr}`);
  }
}

function lockVersion(lock: Record<string, { version?: string }>, name: string): string {
  const version = lock[`node_modules/${name}`]?.version;
  assert.ok(version, `${name} is in the repository's package-lock.json`);
  return version;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

/** The package names a compiled file imports (`from '…'`, `import('…')`, `export … from '…'`). */
function bareImports(code: string): string[] {
  const names = new Set<string>();
  const withoutComments = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const [, spec] of withoutComments.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
    if (spec === undefined || spec.startsWith('.') || spec.startsWith('node:')) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (!builtinModules.includes(name)) names.add(name);
  }
  return [...names];
}

let work: string;
let packed: Packed[] = [];

test.before(async () => {
  work = join(tmpdir(), `switchboard-packages-${randomUUID()}`);
  mkdirSync(join(work, 'tarballs'), { recursive: true });
  // The tarballs carry dist/: compile what is out of date first (a no-op after `npm run build`).
  await sh(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-b', ...packageDirs.map((d) => `packages/${d}`)],
    root,
  );
  const workspaces = packageDirs.flatMap((d) => ['-w', `packages/${d}`]);
  const { stdout } = await sh(
    'npm',
    ['pack', ...workspaces, '--pack-destination', join(work, 'tarballs'), '--json'],
    root,
  );
  const results = JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[];
  packed = [];
  for (const dir of packageDirs) {
    const manifest = JSON.parse(
      readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'),
    ) as Manifest;
    const result = results.find((r) => r.name === manifest.name);
    assert.ok(result, `npm pack packed ${manifest.name}`);
    const tarball = join(work, 'tarballs', result.filename);
    const into = join(work, 'unpacked', dir);
    mkdirSync(into, { recursive: true });
    await sh('tar', ['xzf', tarball, '-C', into], work);
    packed.push({
      dir,
      manifest: JSON.parse(readFileSync(join(into, 'package/package.json'), 'utf8')) as Manifest,
      tarball,
      unpacked: join(into, 'package'),
      files: result.files.map((f) => f.path).sort(),
    });
  }
});

test.after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('every package under packages/ packs with its README, its types and only what it needs', () => {
  assert.deepEqual(packed.map((p) => p.dir).sort(), [...packageDirs].sort());
  for (const p of packed) {
    const where = `${p.manifest.name} (${p.dir})`;
    // Only the compiled code, the sources its maps point at, the README, and the package's data.
    const extra =
      p.manifest.name === '@switchboard/backplane-postgres' ? /^sql\/[a-z-]+\/\d{3}_[a-z0-9_]+\.sql$/ : /^$/;
    for (const file of p.files) {
      assert.ok(
        /^(README\.md|package\.json|LICENSE|CHANGELOG\.md)$/.test(file) ||
          /^dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map)$/.test(file) ||
          /^src\/.+\.ts$/.test(file) ||
          Object.values(p.manifest.bin ?? {}).some((bin) => bin.replace(/^\.\//, '') === file) ||
          extra.test(file),
        `${where} ships only what it needs, not ${file}`,
      );
      assert.ok(
        !/(^|\/)(test|tests|__tests__)\/|\.test\.|\.tsbuildinfo$/.test(file),
        `${where}: no tests in ${file}`,
      );
    }

    if (!p.manifest.private) assert.ok(p.files.includes('CHANGELOG.md'), `${where} ships its CHANGELOG.md`);

    // The README says what it is, how to install it, shows an example and lists the options.
    const readme = readFileSync(join(p.unpacked, 'README.md'), 'utf8');
    assert.match(
      readme,
      new RegExp(`^# ${p.manifest.name.replace('/', '\\/')}\\n`),
      `${where}: README title`,
    );
    assert.match(readme, /^## Install$/m, `${where}: README has an Install section`);
    if (!p.manifest.private)
      assert.ok(
        readme
          .split('\n')
          .some((line) => line.startsWith('npm install ') && line.split(' ').includes(p.manifest.name)),
        `${where}: README says how to install it`,
      );
    assert.match(readme, /^## Example$/m, `${where}: README has an Example section`);
    assert.match(
      readme,
      /```ts\n[^`]*import [^`]+ from '@switchboard\//,
      `${where}: README example imports it`,
    );
    assert.match(readme, /^## Options$/m, `${where}: README has an Options section`);

    // Every export has types, and every target is in the tarball.
    assert.ok(p.manifest.exports, `${where} has exports`);
    for (const [subpath, conditions] of Object.entries(p.manifest.exports)) {
      assert.ok(conditions.types, `${where} export ${subpath} has types`);
      for (const target of Object.values(conditions))
        assert.ok(
          p.files.includes(target.replace(/^\.\//, '')),
          `${where} export ${subpath}: ${target} is packed`,
        );
    }
    for (const field of [p.manifest.main, p.manifest.types])
      assert.ok(field && p.files.includes(field.replace(/^\.\//, '')), `${where}: ${field} is packed`);

    // Source maps point at files in the tarball (no paths into the workspace).
    for (const file of walk(p.unpacked)) {
      const rel = relative(p.unpacked, file);
      if (/\.(js|d\.ts)$/.test(rel)) {
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(file, 'utf8'))?.[1];
        if (url)
          assert.ok(existsSync(join(dirname(file), url)), `${where}: ${rel} maps to ${url}, which is packed`);
      }
      if (rel.endsWith('.map')) {
        const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const source of map.sources) {
          const target = resolve(dirname(file), map.sourceRoot ?? '', source);
          assert.ok(
            target.startsWith(p.unpacked) && existsSync(target),
            `${where}: ${rel} source ${source} is packed`,
          );
        }
      }
    }

    // Dependencies: registry ranges only (no file:, link: or workspace: paths); every package the
    // code imports is declared; the backplanes take the server as a peer.
    const declared = { ...p.manifest.dependencies, ...p.manifest.peerDependencies };
    for (const [name, range] of Object.entries(declared))
      assert.match(
        range,
        /^([\^~]|>=)?\d+\.\d+\.\d+( <\d+\.\d+\.\d+)?$/,
        `${where}: ${name}@${range} is a registry range`,
      );
    for (const file of walk(join(p.unpacked, 'dist')).filter((f) => /\.(js|d\.ts)$/.test(f)))
      for (const name of bareImports(readFileSync(file, 'utf8')))
        assert.ok(
          name in declared,
          `${where}: ${relative(p.unpacked, file)} imports ${name}, a declared dependency`,
        );
    if (p.dir.startsWith('backplane-')) {
      assert.ok(
        p.manifest.peerDependencies?.['@switchboard/server'],
        `${where} names @switchboard/server as a peer`,
      );
      assert.ok(!p.manifest.dependencies?.['@switchboard/server'], `${where} does not bundle its own server`);
    }
  }
});

test('installed from the tarballs outside the workspace: strict type-check, a hub over WebSockets and long polling, a Redis cluster', async (t) => {
  const published = packed.filter((p) => !p.manifest.private);
  assert.deepEqual(published.map((p) => p.manifest.name).sort(), [
    '@switchboard/backplane-nats',
    '@switchboard/backplane-postgres',
    '@switchboard/backplane-redis',
    '@switchboard/protocol',
    '@switchboard/server',
    '@switchboard/service',
  ]);
  const app = join(work, 'app');
  mkdirSync(app);
  for (const name of ['package.json', 'tsconfig.json', 'src'])
    cpSync(join(consumerSource, name), join(app, name), { recursive: true });

  // The consumer's own registry dependencies, and those of our packages, at the repository's
  // lock versions (npm's cache makes this fast; anything missing comes from the registry).
  const lock = (
    JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    }
  ).packages;
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Manifest & {
    overrides?: Record<string, Record<string, string>>;
  };
  manifest.dependencies = {
    ...Object.fromEntries(published.map((p) => [p.manifest.name, `file:${relative(app, p.tarball)}`])),
    ...Object.fromEntries(
      ['@microsoft/signalr', 'typescript', '@types/node'].map((n) => [n, lockVersion(lock, n)]),
    ),
  };
  manifest.overrides = {};
  for (const p of published) {
    const pins = Object.keys(p.manifest.dependencies ?? {})
      .filter((d) => !d.startsWith('@switchboard/'))
      .map((d) => [d, lockVersion(lock, d)]);
    if (pins.length > 0) manifest.overrides[p.manifest.name] = Object.fromEntries(pins);
  }
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], app);

  // Copies from the tarballs, not links, and nothing of ours from the registry.
  const installedLock = (
    JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; resolved?: string; link?: boolean }>;
    }
  ).packages;
  for (const p of published) {
    const path = join(app, 'node_modules', p.manifest.name);
    assert.ok(!lstatSync(path).isSymbolicLink(), `${p.manifest.name} is a copy, not a link`);
    const entry = installedLock[`node_modules/${p.manifest.name}`];
    assert.ok(
      entry && !entry.link && entry.resolved?.startsWith('file:'),
      `${p.manifest.name} comes from its tarball`,
    );
  }
  for (const key of Object.keys(installedLock))
    if (/node_modules\/@switchboard\/[^/]+\/node_modules\/@switchboard\//.test(key))
      assert.fail(`a second copy: ${key}`);
  for (const [name, version] of Object.entries(manifest.overrides).flatMap(([, pins]) =>
    Object.entries(pins),
  )) {
    const copies = Object.entries(installedLock).filter(([k]) => k.endsWith(`node_modules/${name}`));
    assert.ok(
      copies.some(([, v]) => v.version === version),
      `${name} installed at the lock's ${version}`,
    );
  }

  // Strict type-check (tsconfig: strict, noUncheckedIndexedAccess, skipLibCheck off) and compile.
  await sh(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], app);

  const lines = async (script: string, env: NodeJS.ProcessEnv = {}) => {
    const { stdout } = await sh(process.execPath, [script], app, { ...npmEnv(), ...env });
    return stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  };

  const hub = await lines('dist/hub.js');
  for (const transport of ['WebSockets', 'LongPolling']) {
    const row = hub.find((r) => r.transport === transport);
    assert.ok(row, `the hub ran over ${transport}`);
    assert.equal(row.greeting, 'Hello, Ada!');
    assert.match(String(row.error), /HubException: A name is required\.$/);
    assert.equal(row.announced, 'Grace');
    assert.deepEqual(row.counted, [1, 2, 3]);
    assert.equal(row.sum, 10);
  }
  assert.deepEqual(hub.at(-1), { protocol: 'json', frame: '{"type":6}\u001e' });
  assert.deepEqual(await lines('dist/backplanes.js', { BACKPLANE: 'loopback' }), [{ backplane: 'loopback' }]);

  const { hostname, port } = new URL(CLUSTER_REDIS_URL);
  if (!(await requireService(t, { kind: 'tcp', name: 'Redis', host: hostname, port: Number(port || 6379) })))
    return;
  const prefix = `switchboard-tarballs-${randomUUID()}:`;
  try {
    const [cluster] = await lines('dist/cluster.js', { REDIS_URL: CLUSTER_REDIS_URL, PREFIX: prefix });
    assert.deepEqual(cluster, {
      toAll: ['*', 'hello from A'],
      toRoom: ['lobby', 'lobby from A'],
      ok: true,
    });
  } finally {
    await deleteRedisPrefix(CLUSTER_REDIS_URL, prefix);
  }
});
