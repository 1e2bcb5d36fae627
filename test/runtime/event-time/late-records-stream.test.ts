/**
 * A window's late records as a stream of their own (`.lateRecords()`): each record later than the allowed lateness
 * goes there exactly once, with its event time, through a failover, in-process and on a worker thread; and the plan
 * refuses what cannot work, saying what to do.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { collection, collectSink, CollectTarget, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, monotonousTimestamps, tumblingWindows, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { buildPhysicalPlan, JobValidationError } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import lateDrops from './fixtures/late-drops.ts';
import { runWithCrash, scripted, type Script } from './fixtures/scripted-source.ts';

const LATE_DROPS_MODULE = new URL('./fixtures/late-drops.ts', import.meta.url);

/** 400 and then 300 come after the watermark passed [0, 1 000)'s end: both late (no lateness allowed). */
const SCRIPT: Script = [100, 900, 1_500, 2_600, 400, 3_100, 300, 3_200].map((ts) => ['only', ts] as const);

interface Late {
  ts: number;
  timestamp: number | undefined;
}

async function run(t: test.TestContext, crashAfter?: number): Promise<{ fired: Array<[number, number]>; late: Late[]; attempts: number }> {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const fired = new CollectTarget<[number, number]>();
  const late = new CollectTarget<Late>();
  const fault = crashAfter === undefined ? undefined : { after: crashAfter, covered: false, thrown: false };
  const job = defineJob({ name: 'late-stream', parallelism: 1, checkpoints: { intervalMs: 10 }, restart: { type: 'fixed-delay', attempts: 2, delayMs: 1 } }, (env) => {
    const counts = env
      .source(scripted(SCRIPT, fault), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .uid('stamps')
      .keyBy((r) => r.key)
      .window(tumblingWindows({ sizeMs: 1_000 }))
      .process({ process: (records, ctx): [number, number] => [ctx.window.start, records.length] })
      .uid('windows');
    counts.sink(collectSink(fired));
    counts
      .lateRecords()
      .keyBy((r) => r.key)
      .process({ processElement: (r, ctx): Late => ({ ts: r.ts, timestamp: ctx.timestamp }) })
      .uid('late')
      .sink(collectSink(late));
  });
  const runner = new JobRunner({ job, store });
  assert.equal(await runWithCrash(runner, 'stamps', fault), 'finished');
  const metrics = runner.metrics();
  assert.equal(metrics.reduce((n, s) => n + s.lateRecordsDropped, 0), 0, 'nothing dropped: the late records went to their stream');
  return { fired: fired.records, late: late.records, attempts: runner.attempts };
}

test('late records go to .lateRecords() exactly once with their event time, through a failover between them', async (t) => {
  const clean = await run(t);
  assert.deepEqual(clean.late, [{ ts: 400, timestamp: 400 }, { ts: 300, timestamp: 300 }]);
  assert.deepEqual(clean.fired, [[0, 2], [1_000, 1], [2_000, 1], [3_000, 2]]);
  const crashed = await run(t, 5); // the checkpoint covers 400 (sent before its barrier), not 300
  assert.equal(crashed.attempts, 2, 'the seeded crash restarted the job once');
  assert.deepEqual(crashed.late, clean.late);
  assert.deepEqual(crashed.fired, clean.fired);
});

for (const workers of [0, 1]) {
  test(`a window on ${workers === 0 ? 'the main thread' : 'a worker thread'} sends its late records to .lateRecords() instead of dropping them`, async (t) => {
    const dir = await tempDir(t);
    const params = new JobParams([['output', join(dir, 'fired')], ['lateOutput', join(dir, 'late')]]);
    const runner = new JobRunner({ job: lateDrops as JobDefinition, params, workers, jobModule: LATE_DROPS_MODULE });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.workers, workers, 'ran where asked');
    assert.deepEqual(await readPartFiles(join(dir, 'late')), [{ key: 'k', ts: 400 }]);
    assert.equal((await readPartFiles(join(dir, 'fired'))).length, 4, 'every other record counted in a firing');
    assert.equal(runner.metrics().reduce((n, s) => n + s.lateRecordsDropped, 0), 0);
  });
}

test('late records read where none can come, or twice over, or without the results, are refused before the job starts', () => {
  const problems = (build: Parameters<typeof defineJob>[1]): readonly string[] => {
    try {
      buildPhysicalPlan(defineJob({ name: 'bad-late' }, build));
    } catch (err) {
      if (err instanceof JobValidationError) return err.problems;
      throw err;
    }
    assert.fail('the plan was accepted');
  };
  const keyed = (env: Parameters<Parameters<typeof defineJob>[1]>[0]) =>
    env.source(collection([{ k: 'a', ts: 1 }]), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) }).keyBy((r) => r.k);
  const sink = () => collectSink(new CollectTarget<unknown>());
  assert.deepEqual(
    problems((env) => {
      const w = keyed(env).window(tumblingWindows({ sizeMs: 10 }), { lateRecords: sink() }).reduce((a) => a).uid('w');
      w.sink(sink());
      w.lateRecords().sink(sink());
    }),
    ['window "w" sends its late records both to its lateRecords sink and to .lateRecords(): keep one of them'],
  );
  assert.deepEqual(
    problems((env) => {
      const w = keyed(env).window(tumblingWindows({ sizeMs: 10, time: 'processing' })).reduce((a) => a).uid('w');
      w.sink(sink());
      w.lateRecords().sink(sink());
    }),
    ['window "w" is a processing-time window, where no record is late: drop .lateRecords() (or use event time)'],
  );
  assert.deepEqual(
    problems((env) => {
      keyed(env).window(tumblingWindows({ sizeMs: 10 })).reduce((a) => a).uid('w').lateRecords().sink(sink());
    }),
    ['the results of window "w" are not read, only its late records: send its results to a sink too'],
  );
});
