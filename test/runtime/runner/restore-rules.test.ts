import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { collectSink, CollectTarget, datagen, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner, type JobRunnerOptions } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { compareUpdates, expectedCounts, keyedCount, KEYED_COUNT_MODULE, type Count } from './fixtures/keyed-count-to-files.ts';

const RECORDS = 40_000;

interface Run {
  readonly store: CheckpointStore;
  readonly output: string;
  readonly workers: number;
}

/** The runner fixture's keyed count (a job module, so it runs on workers too), its reduce named `countUid`. */
function countingRunner(run: Run, countUid: string, rate: number, options: Partial<JobRunnerOptions> = {}): JobRunner {
  const params = new JobParams([['output', run.output], ['records', String(RECORDS)], ['splits', '2'], ['batchSize', '200'], ['rate', String(rate)], ['keys', '100'], ['countUid', countUid]]);
  return new JobRunner({ job: keyedCount, params, store: run.store, workers: run.workers, jobModule: KEYED_COUNT_MODULE, restartStrategy: { type: 'none' }, ...options });
}

async function freshRun(t: TestContext, workers: number): Promise<Run> {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  await mkdir(output);
  return { store, output, workers };
}

/**
 * Runs the job until a savepoint is taken, then cancels it; returns the savepoint's id. The source is slowed to take
 * 8 s, so the job is still running when the savepoint completes even on a loaded machine (at 0.8 s it finished first).
 */
async function savepointThenCancel(run: Run): Promise<number> {
  const runner = countingRunner(run, 'counts', 5_000);
  let savepoint: number | undefined;
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed' && e.manifest.id === 2) {
      runner.checkpoint('savepoint').then(
        (m) => {
          savepoint = m.id;
          runner.cancel('stopped by the test');
        },
        () => runner.cancel('savepoint failed'),
      );
    }
  });
  assert.equal(await runner.run(), 'cancelled');
  assert.equal(runner.workers, run.workers, 'ran on the workers asked for');
  assert.ok(savepoint !== undefined, 'a savepoint was taken');
  return savepoint;
}

for (const workers of [0, 2]) {
  test(`state of an operator uid the job no longer has is refused, naming the uid, unless allowed (workers ${workers})`, async (t) => {
    const run = await freshRun(t, workers);
    const savepoint = await savepointThenCancel(run);
    const kinds = (await run.store.list('keyed-count')).map((c) => c.kind);
    assert.ok(kinds.includes('savepoint'), 'the savepoint is listed as a savepoint');

    // The reduce was renamed: its state would be silently lost.
    await assert.rejects(
      () => countingRunner(run, 'totals', 0).run(),
      (err: unknown) => isSluiceError(err, 'SLUICE_STATE_NOT_RESTORED') && /"counts"/.test(err.message) && /--allow-non-restored-state/.test(err.message),
    );

    // Allowed: the renamed reduce starts empty, source positions and the sink's transactions still restore.
    const allowed = countingRunner(run, 'totals', 0, { allowNonRestoredState: true, restore: { from: 'checkpoint', id: savepoint } });
    let restoredFrom: number | undefined;
    allowed.events.subscribe((e) => {
      if (e.type === 'attempt-started') restoredFrom = e.restoredFrom;
    });
    assert.equal(await allowed.run(), 'finished');
    assert.equal(allowed.workers, workers, 'ran on the workers asked for');
    assert.equal(restoredFrom, savepoint);
    assert.equal((await readPartFiles(run.output)).length, RECORDS, 'every record committed once across both runs');
    assert.ok((await run.store.list('keyed-count')).some((c) => c.id === savepoint && c.kind === 'savepoint'), 'savepoints survive the job finishing');
  });
  test(`a savepoint taken at p = 2 restores at p = 3 and the counts continue exactly (workers ${workers})`, async (t) => {
    const run = await freshRun(t, workers);
    const savepoint = await savepointThenCancel(run);
    const resumed = countingRunner(run, 'counts', 0, { parallelism: 3, restore: { from: 'checkpoint', id: savepoint } });
    const started: Array<[number | undefined, number]> = [];
    resumed.events.subscribe((e) => {
      if (e.type === 'attempt-started') started.push([e.restoredFrom, e.parallelism]);
    });
    assert.equal(await resumed.run(), 'finished');
    assert.equal(resumed.workers, workers, 'ran on the workers asked for');
    assert.deepEqual(started, [[savepoint, 3]]);
    const updates = await readPartFiles<Count>(run.output);
    assert.equal(updates.length, RECORDS, 'one committed update per record across both runs');
    assert.deepEqual(compareUpdates(updates, expectedCounts(RECORDS, 100)), []);
  });
}

test('a checkpoint taken with another maxParallelism is refused with the way out', async (t) => {
  const run = await freshRun(t, 0);
  await savepointThenCancel(run);
  const target = new CollectTarget<{ key: string; n: number }>();
  const changed = defineJob({ name: 'keyed-count', parallelism: 2, maxParallelism: 64, checkpoints: { intervalMs: 20 } }, (env) => {
    env.source(datagen({ count: 10, record: (i) => ({ key: `k${i}`, n: 1 }) })).uid('numbers').keyBy((r) => r.key).reduce((a) => a).uid('counts').sink(collectSink(target)).uid('out');
  });
  await assert.rejects(
    () => new JobRunner({ job: changed, store: run.store }).run(),
    (err: unknown) => isSluiceError(err, 'SLUICE_MAX_PARALLELISM_CHANGED') && /128/.test(err.message) && /--fresh/.test(err.message),
  );
});
