/**
 * `sluice init <dir>` writes a project and never overwrites one. The project itself is installed, run and tested
 * against the packed package in test/package/package.test.ts.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../support/temp-dir.ts';
import { show, sluice } from '../../service/service-process.ts';

test('sluice init writes a project depending on sluice; a second init into it is refused with exit 2', async (t) => {
  const project = join(await tempDir(t, 'sluice-init-'), 'My Jobs');
  const o = await sluice(['init', project]);
  assert.equal(o.code, 0, show(o));
  const manifest = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as { name: string; type: string; dependencies: Record<string, string>; scripts: Record<string, string> };
  const own = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(manifest.name, 'my-jobs');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.dependencies['sluice'], `^${own.version}`);
  assert.equal(manifest.scripts['start'], 'sluice run jobs/example.ts');
  assert.match(await readFile(join(project, 'jobs/example.ts'), 'utf8'), /from 'sluice'/);
  assert.match(await readFile(join(project, 'test/example.test.ts'), 'utf8'), /from 'sluice\/testing'/);

  await writeFile(join(project, 'notes.md'), 'mine\n');
  const again = await sluice(['init', project]);
  assert.equal(again.code, 2, show(again));
  assert.match(again.stderr, /is not empty .*give a new or empty directory.*\[SLUICE_INIT_DIR_NOT_EMPTY\]/);
  assert.equal(await readFile(join(project, 'notes.md'), 'utf8'), 'mine\n');
});
