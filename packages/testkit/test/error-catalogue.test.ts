import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { protocolErrors } from '@switchboard/protocol';
import { serverErrors } from '@switchboard/server';
import { backplaneErrors } from '@switchboard/server/scaleout';
import { chatErrors } from '../../../apps/chat-server/src/errors.ts';
import { serviceErrors } from '../../service/src/errors.ts';

// Every package's catalogue, by the heading its table has in docs/errors.md.
const catalogues: Record<string, Record<string, { summary: string; surface: string; severity?: string }>> = {
  '@switchboard/protocol': protocolErrors,
  '@switchboard/server': serverErrors,
  '@switchboard/server/scaleout': backplaneErrors,
  '@switchboard/service': serviceErrors,
  '@switchboard/chat-server': chatErrors,
};

/** The codes listed under each `## <package>` heading of docs/errors.md. */
function documentedCodes(): Map<string, string[]> {
  const text = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) {
      current = [];
      sections.set(heading[1]!.trim(), current);
      continue;
    }
    const row = /^\|\s*`?(SB_(?:ERR|CHAT|PRESENCE)_[A-Z0-9_]+)`?\s*\|/.exec(line);
    if (row && current) current.push(row[1]!);
  }
  return sections;
}

test('docs/errors.md lists every code of every catalogue, under its package, once', () => {
  const documented = documentedCodes();
  for (const [pkg, catalogue] of Object.entries(catalogues)) {
    const listed = documented.get(pkg);
    assert.ok(listed, `docs/errors.md has no section '## ${pkg}'`);
    assert.deepEqual([...listed].sort(), Object.keys(catalogue).sort(), `codes of ${pkg}`);
    assert.equal(new Set(listed).size, listed.length, `a code of ${pkg} is listed twice`);
  }
});

test('no code is documented without a catalogue, and codes are unique across packages', () => {
  const documented = documentedCodes();
  const all = Object.values(catalogues).flatMap((c) => Object.keys(c));
  assert.equal(new Set(all).size, all.length, 'a code appears in two catalogues');
  for (const [section, codes] of documented) {
    if (codes.length > 0)
      assert.ok(section in catalogues, `docs/errors.md section '${section}' has no catalogue`);
  }
});

test('every catalogue entry says what went wrong and how the peer learns of it', () => {
  for (const [pkg, catalogue] of Object.entries(catalogues)) {
    for (const [code, entry] of Object.entries(catalogue)) {
      assert.match(code, /^SB_(ERR|CHAT|PRESENCE)_[A-Z0-9_]+$/, `${pkg} ${code}`);
      assert.ok(entry.summary.length > 10, `${pkg} ${code} summary`);
      assert.ok(entry.surface.length > 5, `${pkg} ${code} surface`);
    }
  }
});

test('every code the sources name is in a catalogue, and warning codes say so', () => {
  const known = new Map<string, string | undefined>();
  for (const catalogue of Object.values(catalogues))
    for (const [code, entry] of Object.entries(catalogue)) known.set(code, entry.severity);
  const root = new URL('../../../', import.meta.url).pathname;
  const sourceDirs = ['packages', 'apps']
    .flatMap((top) => readdirSync(join(root, top)).map((name) => join(root, top, name, 'src')))
    .concat(join(root, 'conformance', 'src'));
  const unknown = new Set<string>();
  let scanned = 0;
  for (const dir of sourceDirs) {
    for (const file of sourceFiles(dir)) {
      const text = readFileSync(file, 'utf8');
      // Every `code: 'SB_…'` (an error object, a process warning) and every code handed to an
      // error's constructor as a string literal.
      for (const match of text.matchAll(/['"`](SB_(?:ERR|CHAT|PRESENCE)_[A-Z0-9_]+)['"`]/g)) {
        scanned++;
        if (!known.has(match[1]!)) unknown.add(`${match[1]} (${file.slice(root.length)})`);
      }
      for (const match of text.matchAll(/code:\s*['"`](SB_[A-Z0-9_]+)['"`]/g)) {
        if (match[1]!.startsWith('SB_PRESENCE_'))
          assert.equal(known.get(match[1]!), 'warning', `${match[1]} is a warning in its catalogue`);
      }
    }
  }
  assert.ok(scanned > 50, `the scan found the sources (${scanned} codes)`);
  assert.deepEqual([...unknown].sort(), [], 'codes named in the sources but in no catalogue');
});

/** The TypeScript files under a directory (none when it does not exist). */
function sourceFiles(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

test('the severity column of docs/errors.md matches the catalogues', () => {
  const text = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  let checked = 0;
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | code | meaning | surface | severity |
    if (cells.length !== 6 || !/^SB_(ERR|CHAT|PRESENCE)_/.test(cells[1]!)) continue;
    const entry = Object.values(catalogues).find((c) => cells[1]! in c)?.[cells[1]!];
    assert.ok(entry, `${cells[1]} is in a catalogue`);
    assert.equal(cells[4], entry.severity ?? 'error', `severity of ${cells[1]}`);
    checked++;
  }
  assert.ok(checked >= 11, `the backplane rows carry a severity (${checked} checked)`);
});
