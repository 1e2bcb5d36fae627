/**
 * How workers start (runtime/workers/worker-bundle.ts): a job module bundled once and reused until a bundled file
 * changes; a module that cannot be bundled, and every job with SLUICE_WORKER_BUNDLE=0, starting through tsx instead
 * with the same exact output.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { workerBundle } from '../../../runtime/workers/worker-bundle.ts';
import { tempDir } from '../../support/temp-dir.ts';
import keyedCount, { keyOf } from './fixtures/keyed-count.ts';

const logger = createLogger({ level: 'silent' });

const JOB = (label: string): string => `import { defineJob } from '${pathToFileURL(join(import.meta.dirname, '../../../runtime/api/index.ts')).href}';
import { collection, fileSink } from '${pathToFileURL(join(import.meta.dirname, '../../../connectors/dev/index.ts')).href}';
import { label } from './label.ts';

export default defineJob({ name: 'bundled' }, (env, params) => {
  env.source(collection([label])).sink(fileSink({ directory: params.string('output') }));
});
// ${label}
`;

test('a job module is bundled once, reused, and bundled again when one of its files changes', async (t) => {
  const dir = await tempDir(t);
  const job = join(dir, 'job.ts');
  const label = join(dir, 'label.ts');
  await writeFile(job, JOB('first'));
  await writeFile(label, "export const label = 'one';\n");
  const url = pathToFileURL(job).href;
  const first = await workerBundle(url, logger);
  assert.ok(first !== undefined && existsSync(first), 'bundled to a file');
  assert.match(await readFile(first, 'utf8'), /'one'|"one"/, 'with the job\'s own imports inside');
  assert.equal(await workerBundle(url, logger), first, 'reused while nothing changed');
  await writeFile(label, "export const label = 'two';\n");
  const later = new Date(Date.now() + 5_000);
  await utimes(label, later, later);
  const second = await workerBundle(url, logger);
  assert.ok(second !== undefined && second !== first, 'a changed import makes a new bundle');
  assert.match(await readFile(second, 'utf8'), /'two'|"two"/);
  await rm(second);
  assert.equal(await workerBundle(url, logger), second, 'a bundle removed from the temp folder is written again');
  assert.ok(existsSync(second));
});

test('a module that cannot be bundled, or is not a file, gets no bundle (its workers start through tsx)', async (t) => {
  const dir = await tempDir(t);
  const broken = join(dir, 'broken.ts');
  await writeFile(broken, 'export default defineJob({ name: \n');
  assert.equal(await workerBundle(pathToFileURL(broken).href, logger), undefined);
  assert.equal(await workerBundle('data:text/javascript,export default 1', logger), undefined);
});

test('with SLUICE_WORKER_BUNDLE=0 workers start through tsx and the keyed count is exact', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const previous = process.env['SLUICE_WORKER_BUNDLE'];
  process.env['SLUICE_WORKER_BUNDLE'] = '0';
  t.after(() => {
    if (previous === undefined) delete process.env['SLUICE_WORKER_BUNDLE'];
    else process.env['SLUICE_WORKER_BUNDLE'] = previous;
  });
  const records = 5_000;
  const output = join(dir, 'out');
  const runner = new JobRunner({
    job: keyedCount as JobDefinition,
    params: new JobParams([['output', output], ['records', String(records)]]),
    store,
    workers: 2,
    jobModule: new URL('./fixtures/keyed-count.ts', import.meta.url),
  });
  assert.equal(await runner.run(), 'finished');
  assert.equal(runner.workers, 2);
  const seen = new Map<string, number>();
  const expected: string[] = [];
  for (let i = 0; i < records; i++) {
    const n = (seen.get(keyOf(i)) ?? 0) + 1;
    seen.set(keyOf(i), n);
    expected.push(`${keyOf(i)}:${n}`);
  }
  const rows = (await readPartFiles<{ key: string; n: number }>(output)).map((r) => `${r.key}:${r.n}`);
  assert.deepEqual(rows.sort(), expected.sort());
});
