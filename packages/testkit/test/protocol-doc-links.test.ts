// Source comments that explain protocol behaviour point at docs/protocol.md by anchor
// (`docs/protocol.md#handshake-errors`). This test keeps those links working: every anchor named in a
// source file must exist in docs/protocol.md, and no comment may cite numbered protocol notes that are
// not in the repository ("section 9.2", "(13.10)").
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import test from 'node:test';

const root = new URL('../../../', import.meta.url).pathname;
const self = relative(root, new URL(import.meta.url).pathname);
const sourceRoots = ['packages', 'apps', 'conformance', 'bench', 'examples', 'scripts', 'fuzz'];
const sourceFile = /\.(ts|tsx|mts|js|mjs|cjs)$/;

function collect(dir: string, out: string[]): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (sourceFile.test(name) || name === 'README.md') out.push(path);
  }
  return out;
}

/** GitHub's heading slug: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor docs/protocol.md defines: explicit `<a id>`s and heading slugs. */
function protocolAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(m[1]!);
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) anchors.add(slug(m[1]!));
  return anchors;
}

interface Finding {
  file: string;
  line: number;
  text: string;
}

/** Links to docs/protocol.md whose anchor is missing, and citations of the outside notes. */
function checkSources(files: { file: string; text: string }[], anchors: Set<string>) {
  const broken: Finding[] = [];
  const outside: Finding[] = [];
  // Built from parts so that this file does not match itself.
  const notesName = new RegExp(['signalr', 'protocol(\\.md|\\s+section)'].join('-'), 'i');
  const numberedSection = /\bsections? \d{1,2}(\.\d{1,2})?\b/i;
  const bareNumbers = /\(\d{1,2}\.\d{1,2}((, | and | to )\d{1,2}\.\d{1,2})*\)/;
  const comment = /^\s*(\/\/|\/\*|\*)/;
  for (const { file, text } of files) {
    text.split('\n').forEach((line, index) => {
      const at = { file, line: index + 1, text: line.trim() };
      for (const m of line.matchAll(/protocol\.md#([A-Za-z0-9_-]*)/g)) {
        if (!anchors.has(m[1]!)) broken.push({ ...at, text: `#${m[1]}: ${at.text}` });
      }
      if (notesName.test(line) || (numberedSection.test(line) && !/\bRFC\b/.test(line))) outside.push(at);
      else if (comment.test(line) && bareNumbers.test(line)) outside.push(at);
    });
  }
  return { broken, outside };
}

const show = (list: Finding[]) => list.map((f) => `${f.file}:${f.line}: ${f.text}`).join('\n');

test('every docs/protocol.md#anchor in the sources exists, and nothing cites notes outside the repo', () => {
  const anchors = protocolAnchors(readFileSync(join(root, 'docs/protocol.md'), 'utf8'));
  const files = sourceRoots
    .flatMap((r) => collect(join(root, r), []))
    .map((path) => ({ file: relative(root, path), text: readFileSync(path, 'utf8') }))
    .filter((f) => f.file !== self);
  files.push({ file: 'README.md', text: readFileSync(join(root, 'README.md'), 'utf8') });
  for (const doc of readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md'))) {
    files.push({ file: `docs/${doc}`, text: readFileSync(join(root, 'docs', doc), 'utf8') });
  }
  const linked = files.filter((f) => f.text.includes('protocol.md#'));
  assert.ok(linked.length > 50, `only ${linked.length} files link to docs/protocol.md`);
  const { broken, outside } = checkSources(files, anchors);
  assert.equal(broken.length, 0, `links to anchors docs/protocol.md does not define:\n${show(broken)}`);
  assert.equal(outside.length, 0, `references to protocol notes outside the repository:\n${show(outside)}`);
});

test('the checker catches a missing anchor, a numbered section and a bare section number', () => {
  const anchors = protocolAnchors('<a id="handshake"></a>\n## Long polling\n');
  assert.deepEqual([...anchors].sort(), ['handshake', 'long-polling']);
  const { broken, outside } = checkSources(
    [
      {
        file: 'a.ts',
        text: [
          '// ok (docs/protocol.md#handshake), ok (docs/protocol.md#long-polling)',
          '// broken (docs/protocol.md#handshake-errors)',
          '// the close rules of section 17',
          '/** A new poll finishes the old one with 204 (7.5). */',
          'const size = Math.max(1.5, 2);',
        ].join('\n'),
      },
    ],
    anchors,
  );
  assert.deepEqual(
    broken.map((f) => f.line),
    [2],
  );
  assert.deepEqual(
    outside.map((f) => f.line),
    [3, 4],
  );
});
