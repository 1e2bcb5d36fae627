import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const RECORDS = 40_000;

function countingJob(reduceUid: string, target: CollectTarget<{ key: string; n: number }>, rate?: number) {
  return defineJob({ name: 'restore-rules', parallelism: 2, checkpoints: { intervalMs: 20 }, restart: { type: 'none' } }, (env) => {
    env
      .source(datagen({ count: RECORDS, splits: 2, batchSize: 200, ...(rate === undefined ? {} : { ratePerSecond: rate }), record: (i) => ({ key: `k${i % 100}`, n: 1 }) }))
      .uid('numbers')
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .uid(reduceUid)
      .sink(collectSink(target))
      .uid('out');
  });
}

/**
 * Runs the job until a savepoint is taken, then cancels it; returns the savepoint's id. The source is slowed to take
 * 8 s, so the job is still running when the savepoint completes even on a loaded machine (at 0.8 s it finished first).
 */
async function savepointThenCancel(store: CheckpointStore, target: CollectTarget<{ key: string; n: number }>): Promise<number> {
  const runner = new JobRunner({ job: countingJob('counts', target, 5_000), store });
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
  assert.ok(savepoint !== undefined, 'a savepoint was taken');
  return savepoint;
}

test('state of an operator uid the job no longer has is refused, naming the uid, unless allowed', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const target = new CollectTarget<{ key: string; n: number }>();
  const savepoint = await savepointThenCancel(store, target);
  const kinds = (await store.list('restore-rules')).map((c) => c.kind);
  assert.ok(kinds.includes('savepoint'), 'the savepoint is listed as a savepoint');

  // The reduce was renamed: its state would be silently lost.
  await assert.rejects(
    () => new JobRunner({ job: countingJob('totals', target), store }).run(),
    (err: unknown) => isSluiceError(err, 'SLUICE_STATE_NOT_RESTORED') && /"counts"/.test(err.message) && /--allow-non-restored-state/.test(err.message),
  );

  // Allowed: the renamed reduce starts empty, source positions and the sink's transactions still restore.
  const allowed = new JobRunner({ job: countingJob('totals', target), store, allowNonRestoredState: true, restore: { from: 'checkpoint', id: savepoint } });
  let restoredFrom: number | undefined;
  allowed.events.subscribe((e) => {
    if (e.type === 'attempt-started') restoredFrom = e.restoredFrom;
  });
  assert.equal(await allowed.run(), 'finished');
  assert.equal(restoredFrom, savepoint);
  assert.equal(target.records.length, RECORDS, 'every record committed once across both runs');
  assert.ok((await store.list('restore-rules')).some((c) => c.id === savepoint && c.kind === 'savepoint'), 'savepoints survive the job finishing');
});

test('a checkpoint taken with another maxParallelism is refused with the way out', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const target = new CollectTarget<{ key: string; n: number }>();
  await savepointThenCancel(store, target);
  const changed = defineJob({ name: 'restore-rules', parallelism: 2, maxParallelism: 64, checkpoints: { intervalMs: 20 } }, (env) => {
    env.source(datagen({ count: 10, record: (i) => ({ key: `k${i}`, n: 1 }) })).uid('numbers').keyBy((r) => r.key).reduce((a) => a).uid('counts').sink(collectSink(target)).uid('out');
  });
  await assert.rejects(
    () => new JobRunner({ job: changed, store }).run(),
    (err: unknown) => isSluiceError(err, 'SLUICE_MAX_PARALLELISM_CHANGED') && /128/.test(err.message) && /--fresh/.test(err.message),
  );
});
