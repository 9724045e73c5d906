import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { protocolErrors } from '@switchboard/protocol';
import { serverErrors } from '@switchboard/server';
import { chatErrors } from '../../../apps/chat-server/src/errors.ts';
import { backplanePostgresErrors } from '../../backplane-postgres/src/errors.ts';
import { backplaneRedisErrors } from '../../backplane-redis/src/errors.ts';

// Every package's catalogue, by the heading its table has in docs/errors.md.
const catalogues: Record<string, Record<string, { summary: string; surface: string }>> = {
  '@switchboard/protocol': protocolErrors,
  '@switchboard/server': serverErrors,
  '@switchboard/backplane-redis': backplaneRedisErrors,
  '@switchboard/backplane-postgres': backplanePostgresErrors,
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
    const row = /^\|\s*`?(SB_(?:ERR|CHAT)_[A-Z0-9_]+)`?\s*\|/.exec(line);
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
      assert.match(code, /^SB_(ERR|CHAT)_[A-Z0-9_]+$/, `${pkg} ${code}`);
      assert.ok(entry.summary.length > 10, `${pkg} ${code} summary`);
      assert.ok(entry.surface.length > 5, `${pkg} ${code} surface`);
    }
  }
});
