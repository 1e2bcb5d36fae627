/**
 * The parts of windows whose outcome depends on the order of records and watermarks, made deterministic with one
 * split read a record at a time: allowed lateness (late records re-fire the window, later ones are dropped and
 * counted), early firings, processing-time windows, and the plan errors of windows that cannot work.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, collection, CollectTarget, readPartFiles } from '../../../connectors/dev/index.ts';
import lateDrops from './fixtures/late-drops.ts';
import { defineJob, END_OF_INPUT, JobParams, monotonousTimestamps, sessionWindows, tumblingWindows, type JobDefinition, type Source } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { ManualClock } from '../../../runtime/time/index.ts';
import { waitFor } from '../../support/wait-for.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';

const LATE_DROPS_MODULE = new URL('./fixtures/late-drops.ts', import.meta.url);

interface Fired {
  start: number;
  count: number;
  firing: string;
  watermark: number;
}

function lines(): { logger: ReturnType<typeof createLogger>; logged: string[] } {
  const logged: string[] = [];
  return { logger: createLogger({ level: 'warn', pretty: false, destination: { write: (line: string) => void logged.push(line) } }), logged };
}

test('allowed lateness: a late record inside it updates the window and fires it again; one past it is dropped and counted', async () => {
  const target = new CollectTarget<Fired>();
  const stamps = [100, 900, 1_500, 300, 2_600, 400];
  const job = defineJob({ name: 'lateness', parallelism: 1 }, (env) => {
    env
      .source(collection(stamps.map((ts) => ({ key: 'k', ts })), { batchSize: 1 }), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .keyBy((r) => r.key)
      .window(tumblingWindows({ sizeMs: 1_000 }), { allowedLatenessMs: 1_000 })
      .process({ process: (records, ctx): Fired => ({ start: ctx.window.start, count: records.length, firing: ctx.firing, watermark: ctx.watermark }) })
      .sink(collectSink(target));
  });
  const { logger, logged } = lines();
  assert.equal(await new JobRunner({ job, logger }).run(), 'finished');
  assert.deepEqual(
    target.records.map(({ start, count, firing }) => ({ start, count, firing })),
    [
      { start: 0, count: 2, firing: 'on-time' }, // watermark 1 499 after the record at 1 500
      { start: 0, count: 3, firing: 'late' }, // 300: late, inside the lateness (until watermark 1 999)
      { start: 1_000, count: 1, firing: 'on-time' }, // watermark 2 599 after 2 600; window [0, 1 000) is cleaned up
      { start: 2_000, count: 1, firing: 'on-time' }, // the final watermark at the end of input
    ],
  );
  const dropped = logged.filter((l) => /dropped a record/.test(l));
  assert.equal(dropped.length, 1, '400 came after the lateness: dropped, logged once');
  assert.match(dropped[0] as string, /"lateRecordsDropped":1/);
});

for (const workers of [0, 1]) {
  test(`records dropped as too late are counted in the runner's metrics (workers ${workers})`, async (t) => {
    const output = await tempDir(t);
    const runner = new JobRunner({ job: lateDrops, params: new JobParams([['output', output]]), workers, jobModule: LATE_DROPS_MODULE, logger: lines().logger });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.workers, workers, 'ran where asked');
    const stages = runner.metrics();
    assert.equal(stages.reduce((n, s) => n + s.lateRecordsDropped, 0), 1, 'the record at 400, once');
    assert.equal(stages.find((s) => s.operators.includes('windows'))?.lateRecordsDropped, 1, 'on the stage of the window');
    assert.equal((await readPartFiles(output)).length, 4, 'every other record counted in a firing');
  });
}

test('records later than the allowed lateness go to the lateRecords sink instead, exactly once with checkpoints', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const target = new CollectTarget<Fired>();
  const late = new CollectTarget<{ key: string; ts: number }>();
  const stamps = [100, 900, 1_500, 300, 2_600, 400, 50, 3_100];
  const job = defineJob({ name: 'late-sink', parallelism: 1, checkpoints: { intervalMs: 20 } }, (env) => {
    env
      .source(collection(stamps.map((ts) => ({ key: 'k', ts })), { batchSize: 1 }), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .keyBy((r) => r.key)
      .window(tumblingWindows({ sizeMs: 1_000 }), { allowedLatenessMs: 1_000, lateRecords: collectSink(late) })
      .process({ process: (records, ctx): Fired => ({ start: ctx.window.start, count: records.length, firing: ctx.firing, watermark: ctx.watermark }) })
      .sink(collectSink(target));
  });
  const { logger, logged } = lines();
  assert.equal(await new JobRunner({ job, store, logger }).run(), 'finished');
  assert.deepEqual(late.records, [{ key: 'k', ts: 400 }, { key: 'k', ts: 50 }]);
  assert.deepEqual(target.records.map((r) => r.count), [2, 3, 1, 1, 1], '[0, 1 000) on time and late, then one record in each later window');
  assert.equal(logged.filter((l) => /dropped a record/.test(l)).length, 0, 'nothing dropped');
});

test('early firings emit the contents so far every N ms of processing time, then the window fires on time', async () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 3));
  const target = new CollectTarget<Fired>();
  const stamps = [10, 20, 30];
  let gate = 0; // records released so far: the test lets them in one at a time, moving the clock in between
  let taken = 0; // records polled: a polled record is in its window before the subtask awaits anything
  // One split, one record per poll, and only as many as the test has let in: records and the clock interleave exactly.
  const throttled: Source<{ key: string; ts: number }> = {
    name: 'throttled',
    bounded: true,
    createReader: () => {
      return {
        start: async () => {},
        poll: () => (taken === stamps.length ? END_OF_INPUT : taken < gate ? [{ key: 'k', ts: stamps[taken++] as number }] : null),
        available: () => new Promise((resolve) => setTimeout(resolve, 1)),
        positions: () => [{ split: 'only', position: taken }],
        polledSplit: () => 'only',
        close: async () => {},
      };
    },
  };
  const job = defineJob({ name: 'early', parallelism: 1 }, (env) => {
    env
      .source(throttled, { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .keyBy((r) => r.key)
      .window(tumblingWindows({ sizeMs: 1_000 }), { earlyFiringsEveryMs: 100 })
      .process({ process: (records, ctx): Fired => ({ start: ctx.window.start, count: records.length, firing: ctx.firing, watermark: ctx.watermark }) })
      .sink(collectSink(target));
  });
  const runner = new JobRunner({ job, clock });
  const running = runner.run();
  const admit = async (n: number) => {
    gate = n;
    await waitFor(() => taken === n, { timeoutMs: 30_000, message: `record ${n} to be read` });
  };
  const tick = async (fired: number) => {
    clock.advance(100);
    await waitFor(() => target.records.length === fired, { timeoutMs: 30_000, message: `early firing ${fired}` });
  };
  await admit(1);
  await tick(1);
  await admit(2);
  await tick(2);
  gate = 3;
  assert.equal(await running, 'finished');
  assert.deepEqual(
    target.records.map(({ count, firing }) => ({ count, firing })),
    [
      { count: 1, firing: 'early' },
      { count: 2, firing: 'early' },
      { count: 3, firing: 'on-time' },
    ],
  );
});

test('processing-time windows fire when the clock passes their end; what is open when the input ends fires then', async () => {
  const start = Date.UTC(2026, 11, 3);
  const clock = new ManualClock(start + 100);
  const target = new CollectTarget<Fired>();
  let gate = 0;
  let taken = 0;
  const keys = ['a', 'b', 'a'];
  const source: Source<{ key: string }> = {
    name: 'gated',
    bounded: true,
    createReader: () => ({
      start: async () => {},
      poll: () => (taken === keys.length ? END_OF_INPUT : taken < gate ? [{ key: keys[taken++] as string }] : null),
      available: () => new Promise((resolve) => setTimeout(resolve, 1)),
      positions: () => [{ split: 'only', position: taken }],
      close: async () => {},
    }),
  };
  const job = defineJob({ name: 'processing-time', parallelism: 1 }, (env) => {
    env
      .source(source)
      .keyBy((r) => r.key)
      .window(tumblingWindows({ sizeMs: 1_000, time: 'processing' }))
      .process({ process: (records, ctx): Fired & { key: string } => ({ key: ctx.key, start: ctx.window.start, count: records.length, firing: ctx.firing, watermark: ctx.watermark }) })
      .sink(collectSink(target));
  });
  const running = new JobRunner({ job, clock }).run();
  gate = 2;
  await waitFor(() => taken === 2, { timeoutMs: 30_000, message: 'two records read' });
  clock.advance(1_000); // past the end of [start, start + 1 000)
  await waitFor(() => target.records.length === 2, { timeoutMs: 30_000, message: 'the first window of both keys' });
  gate = 3;
  await waitFor(() => taken === 3, { timeoutMs: 30_000, message: 'the third record read' });
  // The input ends with this record: its window fires at the end, before the clock reaches the window's end.
  await waitFor(() => target.records.length === 3, { timeoutMs: 30_000, message: 'the second window of key a' });
  assert.equal(await running, 'finished');
  assert.deepEqual(
    target.records.map((r) => [(r as Fired & { key: string }).key, r.start - start, r.count, r.firing]).sort(),
    [['a', 0, 1, 'on-time'], ['a', 1_000, 1, 'on-time'], ['b', 0, 1, 'on-time']],
  );
});

test('windows the plan cannot run are refused before the job starts, each with what to do', () => {
  const plan = (build: (env: Parameters<JobDefinition['build']>[0]) => void) => () => new JobRunner({ job: defineJob({ name: 'bad-windows' }, build) });
  const keyed = (env: Parameters<JobDefinition['build']>[0]) => env.source(collection([{ k: 'a', ts: 1 }])).keyBy((r) => r.k);
  assert.throws(
    plan((env) => {
      keyed(env)
        .window(sessionWindows({ gapMs: 10 }))
        .aggregate({ createAccumulator: () => 0, add: (n: number) => n + 1, result: (n) => n })
        .sink(collectSink(new CollectTarget<number>()));
    }),
    /aggregates session windows, which merge: give the aggregate a merge\(a, b\) function/,
  );
  assert.throws(
    plan((env) => {
      keyed(env)
        .window(tumblingWindows({ sizeMs: 10, time: 'processing' }), { allowedLatenessMs: 5 })
        .reduce((a) => a)
        .sink(collectSink(new CollectTarget<unknown>()));
    }),
    /processing-time window, where no record is late: drop allowedLatenessMs/,
  );
  assert.throws(() => tumblingWindows({ sizeMs: 0 }), /sizeMs must be a positive number/);
});

test('an event-time window over a stream without event time fails at once, saying to add a watermark strategy', async () => {
  const job = defineJob({ name: 'no-event-time' }, (env) => {
    env
      .source(collection([{ k: 'a' }]))
      .keyBy((r) => r.k)
      .window(tumblingWindows({ sizeMs: 1_000 }))
      .reduce((a) => a)
      .sink(collectSink(new CollectTarget<unknown>()));
  });
  await assert.rejects(new JobRunner({ job, restartStrategy: { type: 'fixed-delay', attempts: 3, delayMs: 1 } }).run(), (err: unknown) => {
    assert.ok(isSluiceError(err), String(err));
    assert.match(err.message, /no event time: give the source a watermark strategy/);
    return true;
  });
});
