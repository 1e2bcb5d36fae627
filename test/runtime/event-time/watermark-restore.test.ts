/**
 * An operator's watermark survives a failover: a record that was too late before the crash is still too late after
 * it, so a window that fired and was purged is not brought back by a late record replayed after the restore (the
 * output of a crashed run equals the clean run's, record for record). Flink fixed the same in FLINK-36663.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { defineJob, END_OF_INPUT, monotonousTimestamps, tumblingWindows, type Source } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

interface Fired {
  start: number;
  count: number;
  firing: string;
}

/** 400 comes after the watermark passed 2 599: later than [0, 1 000) and its lateness (0), so it is dropped. */
const STAMPS = [100, 900, 1_500, 2_600, 400, 3_100];
/** The records before the crash: the checkpoint the restart restores covers exactly these. */
const BEFORE_CRASH = 4;

/**
 * One split, a record per poll. With `crash`, the reader stops after {@link BEFORE_CRASH} records until `crash.ready`
 * says a checkpoint covers them, then throws once; the restarted reader resumes from the restored position.
 */
function stamps(crash?: { ready: () => boolean; thrown: boolean }): Source<{ key: string; ts: number }> {
  return {
    name: 'stamps',
    bounded: true,
    createReader: (context) => {
      let next = Number(context.restoredPositions?.get('only') ?? 0);
      return {
        start: async () => {},
        poll: () => {
          if (next === STAMPS.length) return END_OF_INPUT;
          if (crash !== undefined && !crash.thrown && next === BEFORE_CRASH) {
            if (!crash.ready()) return null;
            crash.thrown = true;
            throw new Error('seeded crash after the checkpoint');
          }
          return [{ key: 'k', ts: STAMPS[next++] as number }];
        },
        available: () => new Promise((resolve) => setTimeout(resolve, 2)),
        positions: () => [{ split: 'only', position: next }],
        polledSplit: () => 'only',
        close: async () => {},
      };
    },
  };
}

/** What the keyed process variant emits per record: the watermark its function saw. */
interface Seen {
  ts: number;
  watermark: number;
}

type Operator = 'window' | 'process';

async function run<T>(t: test.TestContext, operator: Operator, crash: boolean): Promise<{ out: T[]; attempts: number }> {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const target = new CollectTarget<T>();
  let covered = false;
  const fault = crash ? { ready: () => covered, thrown: false } : undefined;
  const job = defineJob({ name: 'watermark-restore', parallelism: 1, checkpoints: { intervalMs: 10 }, restart: { type: 'fixed-delay', attempts: 2, delayMs: 1 } }, (env) => {
    const keyed = env
      .source(stamps(fault), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .uid('stamps')
      .keyBy((r) => r.key);
    const out =
      operator === 'window'
        ? keyed.window(tumblingWindows({ sizeMs: 1_000 })).process({ process: (records, ctx): Fired => ({ start: ctx.window.start, count: records.length, firing: ctx.firing }) })
        : keyed.process({ processElement: (r, ctx): Seen => ({ ts: r.ts, watermark: ctx.timers.currentWatermark() }) });
    out.uid('operator').sink(collectSink(target as CollectTarget<unknown>));
  });
  const runner = new JobRunner({ job, store });
  const sub = runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed' && e.manifest.sourcePositions['stamps']?.[0]?.position === BEFORE_CRASH) covered = true;
  });
  try {
    assert.equal(await runner.run(), 'finished');
  } finally {
    sub.unsubscribe();
  }
  return { out: target.records, attempts: runner.attempts };
}

test('a record too late before a failover is still too late after it: the purged window does not fire again', async (t) => {
  const clean = await run<Fired>(t, 'window', false);
  assert.deepEqual(clean.out.map((f) => [f.start, f.count, f.firing]), [[0, 2, 'on-time'], [1_000, 1, 'on-time'], [2_000, 1, 'on-time'], [3_000, 1, 'on-time']]);
  const crashed = await run<Fired>(t, 'window', true);
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.out, clean.out, 'the same windows, fired the same way');
});

test('a keyed process function sees after a failover the watermark it saw before it, not none', async (t) => {
  const clean = await run<Seen>(t, 'process', false);
  // Each source batch is one record, and its watermark follows it: a record sees the one its predecessor brought.
  assert.deepEqual(clean.out, [
    { ts: 100, watermark: Number.NEGATIVE_INFINITY },
    { ts: 900, watermark: 99 },
    { ts: 1_500, watermark: 899 },
    { ts: 2_600, watermark: 1_499 },
    { ts: 400, watermark: 2_599 },
    { ts: 3_100, watermark: 2_599 },
  ]);
  const crashed = await run<Seen>(t, 'process', true);
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.out, clean.out, 'record 400, the first after the restore, sees 2 599 again');
});
