/**
 * An operator's watermark survives a failover: a record that was too late before the crash is still too late after
 * it, so a window that fired and was purged is not brought back by a late record replayed after the restore (the
 * output of a crashed run equals the clean run's, record for record). Flink fixed the same in FLINK-36663.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { defineJob, monotonousTimestamps, tumblingWindows } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { runWithCrash, scripted, type Script } from './fixtures/scripted-source.ts';

interface Fired {
  start: number;
  count: number;
  firing: string;
}

/** 400 comes after the watermark passed 2 599: later than [0, 1 000) and its lateness (0), so it is dropped. */
const ONE_SPLIT: Script = [100, 900, 1_500, 2_600, 400, 3_100].map((ts) => ['only', ts] as const);

/** What the keyed process variant emits per record: the watermark its function saw. */
interface Seen {
  ts: number;
  watermark: number;
}

type Operator = 'window' | 'process';

/** Runs `script` through `operator`, clean or with a crash once a checkpoint covers its first `crashAfter` records. */
async function run<T>(t: test.TestContext, operator: Operator, script: Script, crashAfter?: number): Promise<{ out: T[]; attempts: number }> {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const target = new CollectTarget<T>();
  const fault = crashAfter === undefined ? undefined : { after: crashAfter, covered: false, thrown: false };
  const job = defineJob({ name: 'watermark-restore', parallelism: 1, checkpoints: { intervalMs: 10 }, restart: { type: 'fixed-delay', attempts: 2, delayMs: 1 } }, (env) => {
    const keyed = env
      .source(scripted(script, fault), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .uid('stamps')
      .keyBy((r) => r.key);
    const out =
      operator === 'window'
        ? keyed.window(tumblingWindows({ sizeMs: 1_000 })).process({ process: (records, ctx): Fired => ({ start: ctx.window.start, count: records.length, firing: ctx.firing }) })
        : keyed.process({ processElement: (r, ctx): Seen => ({ ts: r.ts, watermark: ctx.timers.currentWatermark() }) });
    out.uid('operator').sink(collectSink(target as CollectTarget<unknown>));
  });
  const runner = new JobRunner({ job, store });
  assert.equal(await runWithCrash(runner, 'stamps', fault), 'finished');
  return { out: target.records, attempts: runner.attempts };
}

test('a record too late before a failover is still too late after it: the purged window does not fire again', async (t) => {
  const clean = await run<Fired>(t, 'window', ONE_SPLIT);
  assert.deepEqual(clean.out.map((f) => [f.start, f.count, f.firing]), [[0, 2, 'on-time'], [1_000, 1, 'on-time'], [2_000, 1, 'on-time'], [3_000, 1, 'on-time']]);
  const crashed = await run<Fired>(t, 'window', ONE_SPLIT, 4);
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.out, clean.out, 'the same windows, fired the same way');
});

test('a keyed process function sees after a failover the watermark it saw before it, not none', async (t) => {
  const clean = await run<Seen>(t, 'process', ONE_SPLIT);
  // Each source batch is one record, and its watermark follows it: a record sees the one its predecessor brought.
  assert.deepEqual(clean.out, [
    { ts: 100, watermark: Number.NEGATIVE_INFINITY },
    { ts: 900, watermark: 99 },
    { ts: 1_500, watermark: 899 },
    { ts: 2_600, watermark: 1_499 },
    { ts: 400, watermark: 2_599 },
    { ts: 3_100, watermark: 2_599 },
  ]);
  const crashed = await run<Seen>(t, 'process', ONE_SPLIT, 4);
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.out, clean.out, 'record 400, the first after the restore, sees 2 599 again');
});

test('with two splits, a split ahead of the other keeps its watermark through a failover', async (t) => {
  // At the checkpoint, split a is at 2 599 and b at 899. After it, b's 3 000 takes the subtask to 2 599, which fires
  // [0, 1 000); a's 400 is then too late. Were a's watermark to start again from its replayed records (none yet), the
  // subtask would stay at 899 and 400 would join [0, 1 000) before it fired: a count of 4 instead of 3.
  const script: Script = [['a', 100], ['b', 100], ['a', 2_600], ['b', 900], ['b', 3_000], ['a', 400], ['a', 3_100], ['b', 3_100]];
  const clean = await run<Fired>(t, 'window', script);
  assert.deepEqual(clean.out.map((f) => [f.start, f.count]), [[0, 3], [2_000, 1], [3_000, 3]]);
  const crashed = await run<Fired>(t, 'window', script, 4);
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.out, clean.out);
});
