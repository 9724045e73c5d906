// The protocol catalogue and its table in docs/errors.md must list the same codes with the same
// texts (the repository-wide check lives in packages/testkit; this one fails closer to the change).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { protocolErrors } from '@switchboard/protocol';

function documentedRows(): Map<string, [string, string]> {
  const markdown = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const section = markdown.split('## @switchboard/protocol')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, [string, string]>();
  for (const line of section.split('\n')) {
    const cells = line.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, '').trim());
    if (cells.length === 3 && cells[0].startsWith('SB_ERR_')) rows.set(cells[0], [cells[1], cells[2]]);
  }
  return rows;
}

describe('protocol error catalogue', () => {
  it('is documented row for row in docs/errors.md', () => {
    const rows = documentedRows();
    assert.deepEqual([...rows.keys()].sort(), Object.keys(protocolErrors).sort());
    for (const [code, entry] of Object.entries(protocolErrors)) {
      assert.deepEqual(rows.get(code), [entry.summary, entry.surface], code);
    }
  });
});
