/**
 * Event time survives a failover: splits and keyed operators start from the watermarks stored with the checkpoint. A
 * record that was too late before the crash is still too late after it, so a window that fired and was purged is not
 * brought back by a late record replayed after the restore (the output of a crashed run equals the clean run's,
 * record for record). Flink's window operators restore their watermark for the same reason (FLINK-36663).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSink, CollectTarget, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, monotonousTimestamps, tumblingWindows } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import heldWindows from './fixtures/held-windows.ts';
import { runWithCrash, scripted, type Script } from './fixtures/scripted-source.ts';

const HELD_WINDOWS = new URL('./fixtures/held-windows.ts', import.meta.url);

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

test('on worker threads, a window rescaled from 2 to 3 subtasks keeps its watermark: the late record stays late', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const runner = new JobRunner({ job: heldWindows, params: new JobParams([['dir', dir], ['holdAfter', '4']]), store, workers: 2, jobModule: HELD_WINDOWS });
  const running = runner.run();
  // Held after 2 600: the windows have seen watermark 2 599 (it follows the record, before the source holds).
  await waitFor(() => runner.metrics().some((s) => s.operators.includes('windows') && s.watermark === 2_599), { timeoutMs: 30_000, message: 'the windows at watermark 2 599' });
  await runner.rescale(3);
  writeFileSync(join(dir, 'release'), '');
  assert.equal(await running, 'finished');
  const fired = (await readPartFiles<[number, number]>(join(dir, 'out'))).sort((a, b) => a[0] - b[0]);
  assert.deepEqual(fired, [[0, 2], [1_000, 1], [2_000, 1], [3_000, 1]], '400 dropped after the rescale as before it, [0, 1 000) fired once');
});

test('with an idle split, which holds the watermark back again after a failover until it is idle again, the window keeps its own', async (t) => {
  // Split b has one record at the end. The reader pauses before a's 2 600 until b is idle (a 50 ms timeout), so a's
  // 2 600 alone takes the watermark to 2 599, firing [0, 1 000) and [1 000, 2 000). Idleness is not restored: after
  // the crash, b holds the sources' watermark back again, and only the window's own restored watermark keeps a's 400
  // too late.
  const script: Script = [['a', 100], ['a', 900], ['a', 1_500], ['a', 2_600], ['a', 400], ['a', 3_100], ['b', 5_000]];
  const run = async (crash: boolean): Promise<{ fired: Array<[number, number]>; attempts: number }> => {
    const store = await CheckpointStore.open(await tempDir(t));
    t.after(() => store.close());
    const target = new CollectTarget<[number, number]>();
    const fault = crash ? { after: 4, covered: false, thrown: false } : undefined;
    let pausedAt: number | undefined;
    const pause = (next: number): boolean => {
      if (next !== 3) return false;
      pausedAt ??= Date.now();
      return Date.now() - pausedAt < 150;
    };
    const job = defineJob({ name: 'idle-split', parallelism: 1, checkpoints: { intervalMs: 10 }, restart: { type: 'fixed-delay', attempts: 2, delayMs: 1 } }, (env) => {
      env
        .source(scripted(script, fault, pause), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts, idleAfterMs: 50 }) })
        .uid('stamps')
        .keyBy((r) => r.key)
        .window(tumblingWindows({ sizeMs: 1_000 }))
        .process({ process: (records, ctx): [number, number] => [ctx.window.start, records.length] })
        .uid('windows')
        .sink(collectSink(target));
    });
    const runner = new JobRunner({ job, store });
    // The crash waits for a checkpoint after the one that committed the two windows fired at 2 599.
    let after = 0;
    const sub = runner.events.subscribe((e) => {
      if (e.type === 'checkpoint-completed' && target.records.length >= 2 && ++after === 2 && fault !== undefined) fault.covered = true;
    });
    try {
      assert.equal(await runner.run(), 'finished');
    } finally {
      sub.unsubscribe();
    }
    return { fired: target.records, attempts: runner.attempts };
  };
  const clean = await run(false);
  assert.deepEqual(clean.fired, [[0, 2], [1_000, 1], [2_000, 1], [3_000, 1], [5_000, 1]]);
  const crashed = await run(true);
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.fired, clean.fired);
});
