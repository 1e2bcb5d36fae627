import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const RECORDS = 20_000;

function job(target: CollectTarget<{ n: number }>, rate: number) {
  return defineJob({ name: 'source-start', parallelism: 2, checkpoints: { intervalMs: 30 } }, (env) => {
    env
      .source(datagen({ count: RECORDS, splits: 4, batchSize: 100, ratePerSecond: rate, record: () => ({ key: 'all', n: 1 }) }))
      .uid('gen')
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .uid('count')
      .map((r) => ({ n: r.n }))
      .sink(collectSink(target))
      .uid('out');
  });
}

/**
 * Runs until some checkpoint covers part of the input, then cancels: returns the last count committed to the target. The
 * input takes 5 s, so the cancel lands mid-stream even on a loaded machine (at 0.5 s the job could finish first).
 */
async function partialRun(store: CheckpointStore): Promise<number> {
  const target = new CollectTarget<{ n: number }>();
  const runner = new JobRunner({ job: job(target, 4_000), store });
  const done = runner.run();
  await waitFor(() => target.records.length >= 2_000, { timeoutMs: 30_000 });
  runner.cancel();
  assert.equal(await done, 'cancelled');
  return target.records.at(-1)?.n ?? 0;
}

test('sourceStart "latest" keeps the restored state but skips the rest of the input (catch-up)', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const counted = await partialRun(store);
  assert.ok(counted > 0 && counted < RECORDS);
  const target = new CollectTarget<{ n: number }>();
  assert.equal(await new JobRunner({ job: job(target, 1_000_000), store, sourceStart: 'latest' }).run(), 'finished');
  assert.deepEqual(target.records, [], 'nothing left to read, nothing emitted');
});

test('sourceStart "earliest" keeps the restored state and reads everything again (reprocess)', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  // One target for both runs: it is the external system, holding what the first run pre-committed. The restored
  // checkpoint may be ahead of what the first run saw committed; its transactions are committed on restore.
  const target = new CollectTarget<{ n: number }>();
  const first = new JobRunner({ job: job(target, 4_000), store });
  const done = first.run();
  await waitFor(() => target.records.length >= 2_000, { timeoutMs: 30_000 });
  first.cancel();
  assert.equal(await done, 'cancelled');
  assert.equal(await new JobRunner({ job: job(target, 1_000_000), store, sourceStart: 'earliest' }).run(), 'finished');
  // Every count committed once, in order: 1..restored from the first run (and its recovered transactions), then
  // restored + 1 .. restored + RECORDS from reading all of the input again on top of the restored state.
  const counts = target.records.map((r) => r.n);
  const restored = counts.length - RECORDS;
  assert.ok(restored > 0 && restored < RECORDS, `restored count ${restored} is part of the input`);
  assert.deepEqual(counts, Array.from({ length: counts.length }, (_, i) => i + 1));
});
