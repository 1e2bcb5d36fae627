import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';
import type { RestoredState } from '../../../runtime/exec/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { JobRunner, type JobEvent } from '../../../runtime/runner/index.ts';
import { WorkerAttempt } from '../../../runtime/workers/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import keyedCount, { keyOf } from './fixtures/keyed-count.ts';
import randomUid from './fixtures/random-uid.ts';
import slowSink from './fixtures/slow-sink.ts';
import hungry from './fixtures/hungry.ts';

const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);
const RECORDS = 20_000;

type Count = { key: string; n: number };

/** The reduce emits every running count once: key k seen c times gives {k, 1} … {k, c}, whatever the interleaving. */
function expectedCounts(records: number): string[] {
  const seen = new Map<string, number>();
  const out: string[] = [];
  for (let i = 0; i < records; i++) {
    const key = keyOf(i);
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    out.push(JSON.stringify({ key, n }));
  }
  return out.sort();
}

async function runCount(t: import('node:test').TestContext, workers: number, extra: Array<[string, string]> = []) {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  const events: JobEvent[] = [];
  const runner = new JobRunner({
    job: keyedCount as JobDefinition,
    params: new JobParams([['output', output], ['records', String(RECORDS)], ...extra]),
    store,
    workers,
    jobModule: fixture('keyed-count.ts'),
  });
  runner.events.subscribe((e) => events.push(e));
  assert.equal(await runner.run(), 'finished');
  const rows = (await readPartFiles<Count>(output)).map((r) => JSON.stringify({ key: r.key, n: r.n })).sort();
  return { runner, rows, events, dir };
}

/** Faults fire only after a commit, so every restart must resume from a checkpoint. */
function assertRestartsRestored(events: readonly JobEvent[]): void {
  const restarts = events.filter((e) => e.type === 'attempt-started' && e.attempt > 0);
  assert.ok(restarts.length > 0);
  for (const e of restarts) assert.ok(e.type === 'attempt-started' && e.restoredFrom !== undefined, `attempt ${e.type === 'attempt-started' ? e.attempt : '?'} restored a checkpoint`);
}

test('a keyed count with an exactly-once file sink at p = 2 commits the same output on 2 workers as in-process', async (t) => {
  const expected = expectedCounts(RECORDS);
  const inProcess = await runCount(t, 0);
  const onWorkers = await runCount(t, 2);
  assert.deepEqual(inProcess.rows, expected);
  assert.deepEqual(onWorkers.rows, expected);
  assert.equal(onWorkers.runner.attempts, 1);
  assert.ok(onWorkers.events.some((e) => e.type === 'checkpoint-completed'), 'checkpoints complete with subtasks on workers');
  const metrics = onWorkers.runner.metrics();
  assert.equal(metrics[0]?.recordsOut, RECORDS, 'metrics of subtasks in workers reach the main thread');
});

test('on workers, a running job reports source lag and rescales 2 → 3 from a checkpoint with exact output', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  // 20,000 records at 5,000/s: the job runs for 4 s whatever the load, long enough to be rescaled.
  const runner = new JobRunner({ job: keyedCount as JobDefinition, params: new JobParams([['output', output], ['records', String(RECORDS)], ['rate', '5000']]), store, workers: 2, jobModule: fixture('keyed-count.ts') });
  const events: JobEvent[] = [];
  runner.events.subscribe((e) => events.push(e));
  const done = runner.run();
  const lags = await waitFor(() => (runner.sourceLag().length === 2 ? runner.sourceLag() : undefined), { timeoutMs: 20_000, message: 'source lag from both workers' });
  assert.deepEqual(lags.map((l) => [l.source, l.subtask, l.split, l.lag]).sort(), [['numbers', 0, 'subtask-0', 7], ['numbers', 1, 'subtask-1', 7]]);
  await waitFor(() => events.some((e) => e.type === 'checkpoint-completed'), { timeoutMs: 20_000, message: 'a first checkpoint' });
  const record = await runner.rescale(3);
  assert.equal(record.to, 3);
  assert.equal(await done, 'finished');
  assert.equal(runner.plan.parallelism, 3);
  const rows = (await readPartFiles<Count>(output)).map((r) => JSON.stringify({ key: r.key, n: r.n })).sort();
  assert.deepEqual(rows, expectedCounts(RECORDS));
});

test('a map that throws in a worker fails the attempt; it restarts from the last checkpoint with exact output', async (t) => {
  const run = await runCount(t, 2, [['failAfter', '7000,15000'], ['rate', '20000']]);
  assert.deepEqual(run.rows, expectedCounts(RECORDS));
  assert.equal(run.runner.attempts, 3, 'two seeded failures');
  assertRestartsRestored(run.events);
  const failures = run.events.filter((e) => e.type === 'attempt-failed');
  assert.ok(failures.every((e) => e.type === 'attempt-failed' && /seeded failure at record/.test((e.error as Error).message)), 'the worker\'s error reaches the runner');
  assert.ok(failures.every((e) => e.type === 'attempt-failed' && /fixtures\/keyed-count\.ts:\d+/.test((e.error as Error).stack ?? '')), 'with the user\'s file:line in its stack');
  assert.ok(failures.every((e) => e.type === 'attempt-failed' && isSluiceError(e.error, 'SLUICE_OPERATOR_FAILED')), 'the failing operator\'s error, not a peer\'s echo of it');
  assert.ok(existsSync(join(run.dir, 'fail-7000.fired')) && existsSync(join(run.dir, 'fail-15000.fired')));
});

test('process.exit in job code ends its worker and fails the attempt; the restart gives exact output', async (t) => {
  const run = await runCount(t, 2, [['exitAfter', '9000'], ['rate', '20000']]);
  assert.deepEqual(run.rows, expectedCounts(RECORDS));
  assert.equal(run.runner.attempts, 2);
  assertRestartsRestored(run.events);
  const failure = run.events.find((e) => e.type === 'attempt-failed');
  assert.ok(failure?.type === 'attempt-failed' && isSluiceError(failure.error, 'SLUICE_WORKER_EXITED'), 'exit reported as SLUICE_WORKER_EXITED');
});

test('a job whose build is not deterministic fails at start, naming the difference, before any source or sink opens', async (t) => {
  const dir = await tempDir(t);
  const output = join(dir, 'out');
  const runner = new JobRunner({ job: randomUid as JobDefinition, params: new JobParams([['output', output]]), workers: 2, jobModule: fixture('random-uid.ts') });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_PLAN_NOT_DETERMINISTIC'), String(err));
    assert.match(err.message, /operator uid "counts-\w+"/);
    assert.match(err.message, /worker \d has/);
    return true;
  });
  assert.equal(runner.attempts, 1, 'not retried: the same build would differ again');
  assert.equal(existsSync(output), false, 'the file sink never started');
  assert.equal(runner.metrics()[0]?.recordsOut ?? 0, 0);
});

test('backpressure across threads: a slow sink keeps the bytes a sender has in flight within the channel capacity; workers log through the main logger', async () => {
  const capacity = 16 * 1024;
  const params = new JobParams([['records', '6000']]);
  const plan = buildPhysicalPlan(slowSink, { params });
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) } }).child({ job: plan.job });
  const attempt = new WorkerAttempt({ plan, attempt: 0, logger, workers: 2, jobModule: pathToFileURL(fixture('slow-sink.ts').pathname).href, params, remoteChannelCapacityBytes: capacity });
  await attempt.run();
  const sinkIn = attempt.subtasks.filter((s) => s.stage === 1).reduce((n, s) => n + s.metrics.recordsIn, 0);
  assert.equal(sinkIn, 6000);
  // ~3,000 records of ~100 estimated bytes cross between the workers: far more than the capacity.
  assert.ok(attempt.maxUnacknowledgedBytes > 0, 'records crossed between workers');
  assert.ok(attempt.maxUnacknowledgedBytes <= capacity, `at most ${capacity} bytes unacknowledged, saw ${attempt.maxUnacknowledgedBytes}`);
  const started = lines.filter((l) => l['msg'] === 'slow sink started');
  assert.deepEqual(started.map((l) => [l['worker'], l['subtask'], l['job'], l['level']]).sort(), [[0, 0, plan.job, 30], [1, 1, plan.job, 30]]);
});

test('a worker over its resource limits fails the attempt with SLUICE_WORKER_FAILED, and is gone', async () => {
  const runner = new JobRunner({
    job: hungry as JobDefinition,
    workers: 1,
    jobModule: fixture('hungry.ts'),
    workerResourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 },
  });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_WORKER_FAILED'), String(err));
    assert.match(err.message, /memory limit/);
    return true;
  });
});

test('a worker that dies while it boots (limits too small to load anything) fails the attempt, never hangs it', async () => {
  const runner = new JobRunner({
    job: hungry as JobDefinition,
    workers: 1,
    jobModule: fixture('hungry.ts'),
    workerResourceLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 },
  });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_WORKER_FAILED'), String(err));
    assert.match(err.message, /memory limit/);
    return true;
  });
});

test('a chain that main cannot read while a worker restores fails the attempt with that error, and nothing is written', async (t) => {
  const output = join(await tempDir(t), 'out');
  const params = new JobParams([['output', output], ['records', '1000']]);
  const plan = buildPhysicalPlan(keyedCount as JobDefinition, { params });
  const asked: number[] = [];
  const restored: RestoredState = {
    checkpointId: 4,
    sourcePositions: () => undefined,
    keyedState: (uid) =>
      uid !== 'counts'
        ? undefined
        : {
            keys: () => [2, 100],
            get: (keyGroup) => {
              asked.push(keyGroup);
              throw new SluiceError('SLUICE_CHECKPOINT_CORRUPT', `blob of key group ${keyGroup} changed after it was verified`);
            },
          },
    operatorState: () => undefined,
  };
  const logger = createLogger({ level: 'silent', pretty: false });
  const attempt = new WorkerAttempt({ plan, attempt: 0, logger, workers: 2, jobModule: pathToFileURL(fixture('keyed-count.ts').pathname).href, params, restored });
  await assert.rejects(attempt.run(), (err: unknown) => isSluiceError(err, 'SLUICE_CHECKPOINT_CORRUPT') && /changed after it was verified/.test((err as Error).message));
  assert.ok(asked.length >= 1 && asked.every((g) => g === 2 || g === 100), `main was asked only for listed key groups: ${asked.join(', ')}`);
  assert.deepEqual(existsSync(output) ? await readPartFiles(output) : [], []);
});
