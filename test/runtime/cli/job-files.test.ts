/**
 * Job files as users keep them: `.ts`, `.mts` and `.js`, in a folder with no package.json or one without
 * `"type": "module"`, importing Sluice by its package name. `sluice run` and `sluice submit` both load them, and both
 * report a syntax error as `file:line:column` with esbuild's message (docs/cli.md).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { show, sluice, startService } from '../../service/service-process.ts';

/** A bounded job that imports `sluice` and `sluice/dev` by name; `helper` is an import line for a local module. */
function squaresJob(name: string, typed: boolean, helper?: string): string {
  const n = typed ? '(n: number)' : '(n)';
  return [
    "import { defineJob } from 'sluice';",
    "import { collection, fileSink } from 'sluice/dev';",
    ...(helper === undefined ? [] : [helper]),
    `export default defineJob({ name: '${name}' }, (env, params) => {`,
    `  env.source(collection([1, 2, 3])).map(${n} => ({ n, square: ${helper === undefined ? 'n * n' : 'square(n)'} })).sink(fileSink({ directory: params.string('output') }));`,
    '});',
    '',
  ].join('\n');
}

const BROKEN = 'export default defineJob({ name: "x" }, (env) => {\n  env.source(\n';

test('sluice run loads .ts, .mts and .js job files from a folder with no package.json, and from a CommonJS package', async (t) => {
  const dir = await tempDir(t, 'sluice-job-files-');
  const loose = join(dir, 'loose');
  const legacy = join(dir, 'legacy');
  await mkdir(loose);
  await mkdir(legacy);
  // No package.json anywhere above `loose` (tmpdir); `legacy` has one without "type", as `npm init -y` writes it.
  await writeFile(join(legacy, 'package.json'), JSON.stringify({ name: 'legacy', version: '1.0.0' }));
  await writeFile(join(loose, 'square.ts'), 'export function square(n: number): number {\n  return n * n;\n}\n');
  const jobs = [
    [join(loose, 'orders.ts'), squaresJob('loose-ts', true, "import { square } from './square.ts';")],
    [join(loose, 'orders.mts'), squaresJob('loose-mts', true)],
    [join(loose, 'orders.js'), squaresJob('loose-js', false)],
    [join(legacy, 'orders.ts'), squaresJob('legacy-ts', true)],
  ] as const;
  for (const [file, source] of jobs) await writeFile(file, source);

  for (const [file] of jobs) {
    const output = `${file}.out`;
    const o = await sluice(['run', file, '--set', `output=${output}`]);
    assert.equal(o.code, 0, `${file}: ${show(o)}`);
    const squares = (await readPartFiles<{ n: number; square: number }>(output)).map((r) => r.square).sort();
    assert.deepEqual(squares, [1, 4, 9], file);
  }
});

test('run and submit report a syntax error in a .ts, .mts or .js job file as file:line:column', async (t) => {
  const dir = await tempDir(t, 'sluice-job-syntax-');
  const files = ['broken.ts', 'broken.mts', 'broken.js'].map((name) => join(dir, name));
  for (const file of files) await writeFile(file, BROKEN);
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);

  for (const file of files) {
    const expected = `job file ${file} has a syntax error: ${file}:3:0: Unexpected end of file [SLUICE_JOB_FILE_SYNTAX_ERROR]`;
    const run = await sluice(['run', file]);
    assert.equal(run.code, 2, show(run));
    assert.ok(run.stderr.includes(expected), `run ${file}: ${show(run)}`);
    const submit = await sluice(['submit', file], { SLUICE_URL: service.url });
    assert.equal(submit.code, 2, show(submit));
    assert.ok(submit.stderr.includes(expected), `submit ${file}: ${show(submit)}`);
  }
});
