/**
 * `sluice run --workers <n>` as a user meets it: a child process running a job file that lives outside the repo
 * (its `sluice` imports resolve to the running Sluice in the workers too), and the flag's validation.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { usableCores } from '../../../runtime/workers/index.ts';
import { runSluice } from '../../support/sluice-cli.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** `sluice <args>` in `cwd`, quiet logs; killed after 60 s. */
const sluice = (args: readonly string[], cwd: string) => runSluice(args, { cwd, env: { ...process.env, LOG_LEVEL: 'warn' }, timeoutMs: 60_000 });

const JOB = `import { defineJob } from 'sluice';
import { datagen, fileSink } from 'sluice/dev';

export default defineJob({ name: 'cli-workers', parallelism: 2, checkpoints: { intervalMs: 100 } }, (env, params) => {
  env
    .source(datagen({ count: 5_000, splits: 2, record: (i: number) => ({ key: 'k' + (i % 7), n: 1 }) }))
    .keyBy((r) => r.key)
    .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
    .sink(fileSink({ directory: params.string('output') }));
});
`;

test('sluice run --workers 2 runs a job file from any folder on worker threads, exactly once', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'count.ts'), JOB);
  const output = join(dir, 'out');
  const o = await sluice(['run', 'count.ts', '--workers', '2', '--set', `output=${output}`, '--data-dir', join(dir, 'data')], dir);
  assert.equal(o.code, 0, `exit ${o.code}\n${o.stdout}\n${o.stderr}`);
  assert.match(o.stdout, /job "cli-workers" finished: 5000 records read/);
  const finals = new Map<string, number>();
  const rows = await readPartFiles<{ key: string; n: number }>(output);
  for (const r of rows) finals.set(r.key, Math.max(finals.get(r.key) ?? 0, r.n));
  assert.equal(rows.length, 5_000, 'one running count per record, none twice');
  assert.deepEqual([...finals.values()].reduce((a, b) => a + b, 0), 5_000);
});

test('sluice run --workers with something other than a whole number exits 2 saying so', async (t) => {
  const dir = await tempDir(t);
  const o = await sluice(['run', 'count.ts', '--workers', 'two'], dir);
  assert.equal(o.code, 2);
  assert.match(o.stderr, /--workers must be a whole number ≥ 0/);
});

test('sluice run without --workers places one worker per usable core (a container CPU limit counts) and logs the count it found', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'count.ts'), JOB);
  const env = { ...process.env, LOG_LEVEL: 'info' };
  const o = await runSluice(['run', 'count.ts', '--set', `output=${join(dir, 'out')}`, '--data-dir', join(dir, 'data')], { cwd: dir, env, timeoutMs: 60_000 });
  assert.equal(o.code, 0, `exit ${o.code}\n${o.stdout}\n${o.stderr}`);
  const cores = usableCores();
  const line = `${o.stdout}\n${o.stderr}`.split('\n').find((l) => l.includes('worker threads') || l.includes('running in-process'));
  assert.ok(line !== undefined, `no placement line in\n${o.stdout}\n${o.stderr}`);
  assert.match(line, new RegExp(`running on ${Math.min(cores, 2)} worker threads`));
  assert.match(line, new RegExp(`"usableCores":${cores}\\b`));
});
