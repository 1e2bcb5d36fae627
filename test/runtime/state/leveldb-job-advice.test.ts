/**
 * What a job on the LevelDB state backend tells its user at start (docs/state-backends.md): once per process, to
 * start it with MALLOC_MMAP_THRESHOLD_ under glibc (glibc reads the variable at process start only, so Sluice cannot
 * set it itself).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pino } from 'pino';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { glibcRuntimeVersion, mallocAdvice, MMAP_THRESHOLD_ENV } from '../../../runtime/state/leveldb/job-advice.ts';

test('the advice names the variable and its value under glibc, and is silent once it is set or off glibc', () => {
  const advice = mallocAdvice({}, '2.36');
  assert.ok(advice?.includes('MALLOC_MMAP_THRESHOLD_=131072'), advice);
  assert.ok(advice?.includes('docs/state-backends.md'), advice);
  assert.equal(mallocAdvice({ [MMAP_THRESHOLD_ENV]: '65536' }, '2.36'), undefined, 'the user chose a threshold');
  assert.equal(mallocAdvice({}, undefined), undefined, 'musl, macOS and Windows have no such tunable');
});

test('glibc is recognised from the diagnostic report (a version on glibc Linux, nothing elsewhere)', () => {
  const version = glibcRuntimeVersion();
  // What the process has mapped says which C library it runs on: glibc's libc.so.6, or musl's ld-musl.
  const onGlibc = process.platform === 'linux' && /\/libc\.so\.6$/m.test(readFileSync('/proc/self/maps', 'utf8'));
  if (onGlibc) assert.match(version ?? 'undefined', /^\d+\.\d+/, 'glibc is mapped: its version must be found');
  else assert.equal(version, undefined);
});

test('a LevelDB job logs the advice once per process when it applies; a heap job never does', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) });
  const job = (backend: 'heap' | 'leveldb') =>
    defineJob({ name: `advice-${backend}`, parallelism: 1, state: { backend } }, (env) => {
      env
        .source(datagen({ count: 100, record: (i) => ({ key: `k${i % 10}`, n: 1 }) }))
        .keyBy((r) => r.key)
        .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
        .sink(collectSink());
    });
  const advised = () => lines.filter((line) => line.includes(MMAP_THRESHOLD_ENV)).length;

  await new JobRunner({ job: job('heap'), logger }).run();
  assert.equal(advised(), 0, 'the heap backend has nothing to advise');
  await new JobRunner({ job: job('leveldb'), logger }).run();
  await new JobRunner({ job: job('leveldb'), logger }).run();
  const expected = mallocAdvice(process.env, glibcRuntimeVersion()) === undefined ? 0 : 1;
  assert.equal(advised(), expected, `advice lines: ${advised()} (expected ${expected}: glibc ${glibcRuntimeVersion() ?? 'absent'}, ${MMAP_THRESHOLD_ENV}=${process.env[MMAP_THRESHOLD_ENV] ?? 'unset'})`);
});
