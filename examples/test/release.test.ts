// Versions and changelogs: the published packages form one changesets fixed group, each has a
// CHANGELOG.md at its current version, and `changeset version` on a copy of the workspace's
// manifests bumps the group together, keeps the backplanes' peer range satisfied and leaves the
// private workspaces alone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  peerDependencies?: Record<string, string>;
}

const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
const workspaces = rootManifest.workspaces.map((dir) => ({
  dir,
  manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest,
}));
const published = workspaces.filter((w) => !w.manifest.private);
const config = JSON.parse(readFileSync(join(root, '.changeset/config.json'), 'utf8')) as {
  fixed: string[][];
  access: string;
  privatePackages: { version: boolean; tag: boolean };
};

test('the published packages are one fixed group, each with a CHANGELOG.md at its version', () => {
  assert.deepEqual(
    published.map((w) => w.dir),
    workspaces.filter((w) => w.dir.startsWith('packages/') && w.dir !== 'packages/testkit').map((w) => w.dir),
    'every package under packages/ but the testkit is published',
  );
  assert.equal(config.fixed.length, 1);
  assert.deepEqual([...config.fixed[0]!].sort(), published.map((w) => w.manifest.name).sort());
  assert.equal(config.access, 'public');
  assert.deepEqual(config.privatePackages, { version: false, tag: false });
  const [version] = new Set(published.map((w) => w.manifest.version));
  assert.equal(new Set(published.map((w) => w.manifest.version)).size, 1, 'one version for the group');
  for (const { dir, manifest } of published) {
    const changelog = readFileSync(join(root, dir, 'CHANGELOG.md'), 'utf8');
    assert.match(changelog, new RegExp(`^# ${manifest.name}\\n`), `${dir}/CHANGELOG.md names the package`);
    assert.equal(/^## (\S+)$/m.exec(changelog)?.[1], version, `${dir}/CHANGELOG.md starts at ${version}`);
  }
});

test('changeset version bumps the group together, keeps peer ranges satisfied, skips private workspaces', async () => {
  const copy = join(tmpdir(), `switchboard-release-${randomUUID()}`);
  try {
    mkdirSync(copy);
    writeFileSync(join(copy, 'package.json'), JSON.stringify(rootManifest));
    for (const { dir } of workspaces) {
      mkdirSync(join(copy, dir), { recursive: true });
      for (const file of ['package.json', 'CHANGELOG.md'])
        if (existsSync(join(root, dir, file))) cpSync(join(root, dir, file), join(copy, dir, file));
    }
    cpSync(join(root, '.changeset'), join(copy, '.changeset'), { recursive: true });
    // A minor change of the server alone, next to whatever is pending in the repository.
    writeFileSync(
      join(copy, '.changeset', 'a-minor-server-change.md'),
      '---\n"@switchboard/server": minor\n---\n\nA minor change of the server.\n',
    );
    await run(process.execPath, [join(root, 'node_modules/@changesets/cli/bin.js'), 'version'], {
      cwd: copy,
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
    });

    const before = published[0]!.manifest.version;
    const [major, minor] = before.split('.').map(Number) as [number, number];
    const next = major === 0 ? `0.${minor + 1}.0` : `${major}.${minor + 1}.0`;
    for (const { dir, manifest } of workspaces) {
      const after = JSON.parse(readFileSync(join(copy, dir, 'package.json'), 'utf8')) as Manifest;
      if (manifest.private) {
        assert.equal(after.version, manifest.version, `${dir} (private) keeps its version`);
        assert.ok(!existsSync(join(copy, dir, 'CHANGELOG.md')), `${dir} (private) gets no changelog`);
        continue;
      }
      assert.equal(after.version, next, `${manifest.name} goes to ${next} with the group`);
      const changelog = readFileSync(join(copy, dir, 'CHANGELOG.md'), 'utf8');
      assert.equal(
        /^## (\S+)$/m.exec(changelog)?.[1],
        next,
        `${dir}/CHANGELOG.md has a ${next} section first`,
      );
      assert.ok(changelog.includes(`## ${before}`), `${dir}/CHANGELOG.md keeps ${before}`);
      if (manifest.name === '@switchboard/server')
        assert.ok(changelog.includes('A minor change of the server.'));
      const peer = after.peerDependencies?.['@switchboard/server'];
      if (dir.includes('backplane-')) {
        assert.equal(peer, manifest.peerDependencies?.['@switchboard/server'], `${dir} keeps its peer range`);
        const [, low, high] = /^>=(\S+) <(\S+)$/.exec(peer ?? '') ?? [];
        const n = (v: string) =>
          v
            .split('.')
            .map(Number)
            .reduce((a, x) => a * 1000 + x, 0);
        assert.ok(low && high && n(next) >= n(low) && n(next) < n(high), `${peer} admits server ${next}`);
      }
    }
    // The pending changesets were consumed.
    assert.ok(!existsSync(join(copy, '.changeset', 'a-minor-server-change.md')));
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
