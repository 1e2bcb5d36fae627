// Every relative link in README.md and docs/ points at a file of this repository, and every `#anchor` into a
// Markdown file names one of its headings: the docs must stand alone.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { documentationFiles, ROOT } from '../support/documentation-files.ts';

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  let inCode = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const m = !inCode && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) anchors.add(slug(m[1] as string));
  }
  return anchors;
}

test('every relative link in README.md and docs/ resolves, anchors included', () => {
  const broken: string[] = [];
  for (const file of documentationFiles()) {
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      const where = `${relative(ROOT, file)}: ${target}`;
      if (!existsSync(resolved)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${where} (no heading #${anchor})`);
    }
  }
  assert.deepEqual(broken, []);
});

test('the docs cite no file outside the repository', () => {
  const outside = documentationFiles().filter((file) => /shared\/|ARCHITECTURE\.md|MEASURED\.md|ARCHITECTURE §/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(outside.map((f) => relative(ROOT, f)), []);
});
