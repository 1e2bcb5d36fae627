/**
 * Watermark alignment: a source subtask more than `maxDriftMs` ahead of its group's lowest watermark stops reading
 * until the others catch up; idle and finished subtasks hold no one back, and a paused one is not taken for idle.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, JobParams, monotonousTimestamps, type JobDefinition, type SourceReader, type SplitPosition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { SourceAlignment } from '../../../runtime/event-time/source-alignment.ts';
import { SourceWatermarks } from '../../../runtime/event-time/source-watermarks.ts';
import { WatermarkBoard } from '../../../runtime/event-time/watermark-board.ts';
import { SourceInput } from '../../../runtime/exec/source-input.ts';
import { SubtaskMetrics } from '../../../runtime/exec/subtask-metrics.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/plan-builder.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { SluiceMetrics } from '../../../runtime/metrics/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { parsePrometheusText } from '../../support/prometheus-text.ts';
import { ManualClock } from '../../../runtime/time/index.ts';
import alignedSources, { FAST_BATCH, FAST_COUNT, FAST_STEP_MS, MAX_DRIFT_MS, readLog, SLOW_COUNT, SLOW_STEP_MS } from './fixtures/aligned-sources-job.ts';

const ALIGNED_MODULE = new URL('./fixtures/aligned-sources-job.ts', import.meta.url);

/** Three aligned sources — `a` at p = 2 and `b` in group `g`, `c` in group `h` — and one without alignment. */
function boardJob(): JobDefinition {
  return defineJob({ name: 'board' }, (env) => {
    const source = (uid: string, parallelism: number, group?: string) =>
      env
        .source(datagen({ count: 1, splits: parallelism, record: () => ({ ts: 0 }) }), {
          watermarks: monotonousTimestamps<{ ts: number }>({ timestamp: (r) => r.ts, ...(group === undefined ? {} : { alignment: { group, maxDriftMs: 100, updateIntervalMs: 50 } }) }),
        })
        .uid(uid)
        .parallelism(parallelism);
    source('a', 2, 'g').union(source('plain', 1), source('b', 1, 'g'), source('c', 1, 'h')).sink(collectSink());
  });
}

/** The board of {@link boardJob}'s plan, on a manual clock: `aligned(uid, i)` is subtask `i` of source `uid`'s alignment. */
function boardFixture() {
  const plan = buildPhysicalPlan(boardJob());
  const board = WatermarkBoard.forPlan(plan)!;
  const clock = new ManualClock(0);
  const stageOf = (uid: string): number => plan.stages.find((s) => s.operators[0]?.uid === uid)!.index;
  const seat = (uid: string, index: number) => board.seat(plan, stageOf(uid), index);
  const aligned = (uid: string, index: number): SourceAlignment => new SourceAlignment(board, seat(uid, index)!, clock, silentLogger());
  return { plan, board, clock, stageOf, seat, aligned };
}

test('the board gives each aligned source subtask a slot, and its group the slots of the same group, from the plan alone', () => {
  const { board, stageOf, seat } = boardFixture();
  const [a0, a1, b, c] = [seat('a', 0)!, seat('a', 1)!, seat('b', 0)!, seat('c', 0)!];
  assert.equal(new Set([a0.slot, a1.slot, b.slot, c.slot]).size, 4, 'a slot each');
  for (const seat of [a0, a1, b]) assert.deepEqual([...seat.group].sort(), [a0.slot, a1.slot, b.slot].sort(), 'group g');
  assert.deepEqual(c.group, [c.slot], 'group h alone');
  assert.equal(seat('plain', 0), undefined, 'a source without alignment has no seat');
  const again = new WatermarkBoard(board.buffer).seat(buildPhysicalPlan(boardJob()), stageOf('b'), 0);
  assert.deepEqual(again, b, 'another thread builds the same plan and finds the same seats');
  assert.equal(WatermarkBoard.forPlan(buildPhysicalPlan(alignedSources, { params: new JobParams([['aligned', 'no']]) })), undefined, 'no board without alignment');
});

test('a subtask pauses while more than maxDriftMs ahead of its group\'s lowest, looks again every updateIntervalMs, and idle or finished ones hold no one back', () => {
  const { clock, aligned } = boardFixture();
  const [a0, a1, b] = [aligned('a', 0), aligned('a', 1), aligned('b', 0)];
  assert.equal(a0.mayRead(Number.NEGATIVE_INFINITY, false), true, 'no watermark yet: it is not ahead of anyone');
  assert.equal(a1.mayRead(1_000, false), false, 'the others have no watermark yet: their records may be old');
  assert.equal(b.mayRead(900, false), false, 'a0 has no watermark yet: it holds the group back');
  assert.equal(a0.mayRead(950, false), true, '950 ≤ 900 + 100');
  assert.equal(a1.mayRead(1_000, false), true, '1000 ≤ 900 + 100: the group changed since a1 looked, so it looks again');
  assert.equal(b.mayRead(900, false), true, 'b is the lowest: it always reads');
  assert.equal(a0.mayRead(1_001, false), false, '1001 > 900 + 100');
  assert.equal(a0.mayRead(1_001, false), false, 'nothing changed: a paused subtask looks again after updateIntervalMs');
  assert.equal(b.mayRead(900, true), true, 'b goes idle');
  assert.equal(a0.mayRead(1_001, false), true, 'an idle subtask holds no one back');
  assert.equal(a1.mayRead(1_200, false), false, '1200 > 1001 + 100: the lowest is now a0');
  b.finished();
  a0.finished();
  clock.advance(50);
  assert.equal(a1.mayRead(1_200, false), true, 'finished subtasks hold no one back');
  const c = aligned('c', 0);
  assert.equal(c.mayRead(1_000_000, false), true, 'group h is alone: group g is nothing to it');
});

/** A reader with one split that always has a batch: its split never goes quiet on its own. */
function busyReader(): SourceReader<{ ts: number }> & { polls: number } {
  let next = 0;
  return {
    polls: 0,
    start: async () => {},
    poll() {
      this.polls++;
      return [{ ts: (next += 10) }];
    },
    available: () => Promise.resolve(),
    positions: (): SplitPosition[] => [{ split: 'p0', position: next }],
    polledSplit: () => 'p0',
    close: async () => {},
  };
}

test('a paused subtask wakes as soon as its group\'s watermarks change, else after updateIntervalMs', async () => {
  const { clock, aligned } = boardFixture();
  const [a0, a1, b] = [aligned('a', 0), aligned('a', 1), aligned('b', 0)];
  a0.mayRead(0, false);
  b.mayRead(0, false);
  assert.equal(a1.mayRead(500, false), false);
  let woken = false;
  const wake = a1.wake()!.then(() => (woken = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(woken, false, 'nothing changed, and the manual clock stands still');
  b.mayRead(0, false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(woken, false, 'publishing the same watermark is no change');
  b.mayRead(450, false);
  await wake;
  assert.equal(a1.mayRead(500, false), false, 'woken: it looks, a0 (0) still holds it back');
  const timed = a1.wake()!;
  clock.advance(50);
  await timed;
  a0.finished();
  clock.advance(50);
  assert.equal(a1.mayRead(500, false), true, '500 ≤ 450 + 100 once a0 finished');
});

test('a paused source reads nothing and does not go idle, however long it waits; it reads on once its group catches up', () => {
  const { clock, aligned } = boardFixture();
  const reader = busyReader();
  const strategy = boundedOutOfOrderness<{ ts: number }>({ maxOutOfOrdernessMs: 0, timestamp: (r) => r.ts, idleAfterMs: 100, alignment: { group: 'g', maxDriftMs: 100, updateIntervalMs: 50 } });
  const metrics = new SubtaskMetrics();
  const input = new SourceInput(reader, {
    holdEnd: false,
    onFinished: () => {},
    metrics,
    clock,
    eventTime: new SourceWatermarks(strategy, reader, clock, 'a'),
    alignment: aligned('a', 0),
  });
  const others = [aligned('a', 1), aligned('b', 0)];
  for (const other of others) other.mayRead(0, false);
  const events: string[] = [];
  const drain = () => {
    for (let event = input.poll(); event !== null; event = input.poll()) events.push(event.kind === 'watermark' ? `watermark ${event.watermark}` : event.kind);
  };
  // Reads while its watermark is within 100 ms of the others' 0: ts 10 … 110 (watermark 109 > 100: then it pauses).
  for (let i = 0; i < 11; i++) drain();
  const polls = reader.polls;
  assert.ok(polls > 0 && polls <= 12, `it read until it was ahead (${polls} polls)`);
  for (let t = 0; t < 20; t++) {
    clock.advance(100);
    drain();
  }
  assert.equal(reader.polls, polls, 'paused: 2 s without a read');
  assert.deepEqual([metrics.aligned, metrics.alignmentPaused], [true, true], 'the pause shows in its metrics');
  assert.ok(!events.includes('idle'), `never idle while paused: ${events.join(', ')}`);
  for (const other of others) other.mayRead(10_000, false);
  clock.advance(50);
  drain();
  assert.ok(reader.polls > 10_000 / 10 - 100, `the group caught up: it read on until ahead again (${reader.polls} polls)`);
});

test('watermark alignment keeps a source within maxDriftMs (plus a batch) of the slow source of its group, and loses nothing', async (t) => {
  readLog.length = 0;
  const run = await startJob(alignedSources);
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.equal(run.outputs('out').length, FAST_COUNT + SLOW_COUNT, 'every record of both sources');
  let slowest = Number.NEGATIVE_INFINITY;
  let worst = Number.NEGATIVE_INFINITY;
  for (const { source, ts } of readLog) {
    if (source === 'slow') slowest = Math.max(slowest, ts);
    // Before the slow source has a watermark, the fast one reads its first batch only (having none, it was not ahead).
    else if (slowest === Number.NEGATIVE_INFINITY) assert.ok(ts < FAST_BATCH * FAST_STEP_MS, `read ${ts} before the slow source read anything`);
    else if (slowest < (SLOW_COUNT - 1) * SLOW_STEP_MS) worst = Math.max(worst, ts - slowest); // until the slow source ended
  }
  assert.ok(worst <= MAX_DRIFT_MS + FAST_BATCH * FAST_STEP_MS, `the fast source ran ${worst} ms ahead of the slow one`);
  assert.ok(worst > 0, 'the fast source did run ahead, within its bound');
});

test('without alignment the same sources drift far apart (what the test above guards against)', async (t) => {
  readLog.length = 0;
  const run = await startJob(alignedSources, { params: { aligned: 'no' } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  let slowest = Number.NEGATIVE_INFINITY;
  let worst = Number.NEGATIVE_INFINITY;
  for (const { source, ts } of readLog) {
    if (source === 'slow') slowest = Math.max(slowest, ts);
    else worst = Math.max(worst, ts - slowest);
  }
  assert.ok(worst > MAX_DRIFT_MS + FAST_BATCH * FAST_STEP_MS, `unaligned, the fast source ran only ${worst} ms ahead`);
});

test('aligned sources on two worker threads share the board: the job finishes with every record', async (t) => {
  // Were the board not shared, each source would wait for ever for the other's watermark to appear.
  const dir = await mkdtemp(join(tmpdir(), 'sluice-alignment-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const runner = new JobRunner({ job: alignedSources, workers: 2, jobModule: ALIGNED_MODULE, store, logger: silentLogger() });
  const metrics = new SluiceMetrics();
  t.after(metrics.jobs.track('aligned', runner));
  assert.equal(await runner.run(), 'finished');
  const out = runner.metrics().find((stage) => stage.operators.includes('out'));
  assert.equal(out?.recordsIn, FAST_COUNT + SLOW_COUNT);
  // The aligned sources' pause gauges come from the workers, one per source subtask, and only for them.
  const samples = parsePrometheusText(await metrics.text());
  const paused = samples.filter((s) => s.name === 'sluice_watermark_alignment_paused');
  assert.deepEqual(paused.map((s) => s.labels['operator']).sort(), ['fast', 'slow']);
  assert.deepEqual(samples.filter((s) => s.name === 'sluice_watermark_alignment_paused_splits').map((s) => s.value), [0, 0], 'nothing paused once both ended');
});

test('aligned sources through seeded crashes: paused sources still take part in checkpoints, and the output is exact', async (t) => {
  const run = await startJob(alignedSources, { faults: { crashes: 2, seed: 3 } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.equal(run.faults.fired.length, 2);
  const out = run.outputs<{ source: string; ts: number }>('out');
  for (const [source, count, step] of [['fast', FAST_COUNT, FAST_STEP_MS], ['slow', SLOW_COUNT, SLOW_STEP_MS]] as const) {
    const seen = out.filter((r) => r.source === source).map((r) => r.ts);
    assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i * step), `${source}: every record once, in order`);
  }
});

test('a bad alignment fails the job\'s build, saying what to give', () => {
  for (const [alignment, message] of [
    [{ group: '', maxDriftMs: 10 }, /group must be a non-empty string/],
    [{ group: 'g', maxDriftMs: -1 }, /maxDriftMs must be a finite number ≥ 0, got -1/],
    [{ group: 'g', maxDriftMs: 10, updateIntervalMs: 0 }, /updateIntervalMs must be a positive number of milliseconds, got 0/],
  ] as const) {
    assert.throws(
      () => monotonousTimestamps<{ ts: number }>({ timestamp: (r) => r.ts, alignment }),
      (err: unknown) => isSluiceError(err, 'SLUICE_INVALID_JOB') && message.test(err.message) && /alignment: \{ group: 'orders', maxDriftMs: 60_000 \}/.test(err.message),
    );
  }
});

/**
 * One source subtask reading two splits that start far apart in event time and end together: datagen deals out
 * contiguous ranges of records, split 0 covering 0–200 s in steps of 20 ms and split 1 100–200 s in steps of 10 ms.
 * Aligned per split, split 1 waits until split 0 reaches 100 s, then both read on together. (No idleness: on a loaded
 * machine a split being read can be taken for idle between two batches, and let the other run ahead.)
 */
function twoSplitJob(aligned: boolean, log: Array<{ split: number; ts: number }>): JobDefinition {
  const COUNT = 20_000;
  const HALF = COUNT / 2;
  return defineJob({ name: 'two-splits', checkpoints: { intervalMs: 50 } }, (env) => {
    const alignment = aligned ? { alignment: { group: 'g', maxDriftMs: 2_000, updateIntervalMs: 5 } } : {};
    env
      .source(datagen({ count: COUNT, splits: 2, batchSize: 100, record: (i) => (i < HALF ? { split: 0, ts: i * 20 } : { split: 1, ts: 100_000 + (i - HALF) * 10 }) }), {
        watermarks: monotonousTimestamps<{ split: number; ts: number }>({ timestamp: (r) => r.ts, ...alignment }),
      })
      .uid('two-splits')
      .map((r) => {
        log.push(r);
        return r;
      })
      .uid('log')
      .sink(collectSink())
      .uid('out');
  });
}

for (const aligned of [true, false]) {
  test(`a subtask's splits are aligned one by one when its reader can pause them (${aligned ? 'aligned' : 'unaligned: they interleave from the start'})`, async (t) => {
    const log: Array<{ split: number; ts: number }> = [];
    const run = await startJob(twoSplitJob(aligned, log), aligned ? { faults: { crashes: 1, seed: 5 } } : {});
    t.after(() => run.close());
    assert.equal(await run.finished, 'finished');
    const out = run.outputs<{ split: number; ts: number }>('out');
    for (const split of [0, 1]) {
      const want = Array.from({ length: 10_000 }, (_, n) => (split === 0 ? n * 20 : 100_000 + n * 10));
      assert.deepEqual(out.filter((r) => r.split === split).map((r) => r.ts), want, `split ${split}: every record once, in order`);
    }
    // Split 1 reads a batch only while its watermark is within 2 s of split 0's: so at most 2 s and a batch (1 s)
    // ahead of what split 0 has read, until split 0 ends. Its first batch is read before split 0 has a watermark.
    let split0 = Number.NEGATIVE_INFINITY;
    let worst = Number.NEGATIVE_INFINITY;
    for (const r of log) {
      if (r.split === 0) split0 = Math.max(split0, r.ts);
      else if (split0 < 199_980 && r.ts >= 101_000) worst = Math.max(worst, r.ts - split0);
    }
    if (aligned) assert.ok(worst <= 3_000, `split 1 read ${worst} ms ahead of split 0`);
    else assert.ok(worst > 3_000, `unaligned, split 1 read only ${worst} ms ahead`);
  });
}
