import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { collectSink, CollectTarget, datagen, fileSink, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

function job(records: number, rate?: number) {
  return defineJob({ name: 'finish-cleanup', parallelism: 2, checkpoints: { intervalMs: 20 }, restart: { type: 'fixed-delay', attempts: 3, delayMs: 1 } }, (env) => {
    env
      .source(datagen({ count: records, splits: 2, batchSize: 100, ...(rate === undefined ? {} : { ratePerSecond: rate }), record: (i) => ({ key: `k${i % 10}`, n: 1 }) }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .sink(collectSink(new CollectTarget<{ key: string; n: number }>()));
  });
}

test('a finished job whose checkpoints cannot be deleted stays finished: no restart, a warning', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  store.delete = async () => {
    throw new Error('disk says no');
  };
  const runner = new JobRunner({ job: job(5_000), store });
  assert.equal(await runner.run(), 'finished');
  assert.equal(runner.attempts, 1, 'cleanup after the end is not an attempt failure');
});

test('run() returns only after a checkpoint write begun before the stop has landed', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding: number | undefined;
  const runner = new JobRunner({
    job: job(1_000_000, 20_000),
    store,
    beforeCheckpointStore: async (id) => {
      if (id !== 3) return;
      holding = id;
      await held;
    },
  });
  let returned = false;
  const done = runner.run().then((outcome) => ((returned = true), outcome));
  await waitFor(() => holding === 3, { timeoutMs: 10_000, message: 'checkpoint 3 never reached the store' });
  runner.cancel();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(returned, false, 'run() waits for the write in progress');
  release();
  assert.equal(await done, 'cancelled');
  assert.ok((await store.list('finish-cleanup')).some((c) => c.id === 3), 'the write landed before run() returned');
});

test('a finished bounded job run again reads nothing new: its output is not written twice; restore none (--fresh) runs it from the start', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  const fileJob = defineJob({ name: 'finish-rerun', parallelism: 2, checkpoints: { intervalMs: 20 } }, (env) => {
    env
      .source(datagen({ count: 3_000, splits: 2, batchSize: 100, record: (i) => ({ key: `k${i % 10}`, n: 1 }) }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .sink(fileSink({ directory: output }));
  });
  assert.equal(await new JobRunner({ job: fileJob, store }).run(), 'finished');
  assert.equal((await readPartFiles(output)).length, 3_000, 'one update per record');
  const kept = await store.list('finish-rerun');
  assert.equal(kept.filter((c) => c.kind === 'checkpoint').length, 1, 'only the final checkpoint is kept');

  const rerun = new JobRunner({ job: fileJob, store });
  const started: Array<number | undefined> = [];
  rerun.events.subscribe((e) => {
    if (e.type === 'attempt-started') started.push(e.restoredFrom);
  });
  assert.equal(await rerun.run(), 'finished');
  assert.deepEqual(started, [kept[0]?.id], 'the rerun restored the final checkpoint');
  assert.equal((await readPartFiles(output)).length, 3_000, 'and wrote nothing again');

  assert.equal(await new JobRunner({ job: fileJob, store, restore: { from: 'none' } }).run(), 'finished');
  assert.equal((await readPartFiles(output)).length, 6_000, 'a fresh run processes everything again, by request');
});
