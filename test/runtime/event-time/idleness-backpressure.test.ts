/**
 * Idleness is about splits with nothing to read, not about a source that cannot send: the time a source subtask waits
 * for downstream (backpressure) does not count towards its splits' `idleAfterMs`. Counted, a source blocked for longer
 * would mark itself idle before reading the records waiting for it, and a window behind it would take its watermark
 * from its other inputs alone — and drop those records as late.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datagen } from '../../../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, monotonousTimestamps, tumblingWindows, type Sink, type SourceReader, type SplitPosition } from '../../../runtime/api/index.ts';
import { SourceWatermarks } from '../../../runtime/event-time/source-watermarks.ts';
import { SourceInput } from '../../../runtime/exec/source-input.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { ManualClock } from '../../../runtime/time/index.ts';

/** A reader of one split that always has a batch ready. */
function busyReader(): SourceReader<{ ts: number }> {
  let next = 0;
  return {
    start: async () => {},
    poll: () => [{ ts: (next += 10) }],
    available: () => Promise.resolve(),
    positions: (): SplitPosition[] => [{ split: 'p0', position: next }],
    polledSplit: () => 'p0',
    close: async () => {},
  };
}

test('a source that could not poll for longer than idleAfterMs reads its next batch without going idle first', () => {
  const clock = new ManualClock(0);
  const reader = busyReader();
  const strategy = boundedOutOfOrderness<{ ts: number }>({ maxOutOfOrdernessMs: 0, timestamp: (r) => r.ts, idleAfterMs: 1_000 });
  const input = new SourceInput(reader, { holdEnd: false, onFinished: () => {}, clock, eventTime: new SourceWatermarks(strategy, reader, clock, 'a') });
  const kinds: string[] = [];
  const next = (): void => void kinds.push(input.poll()?.kind ?? 'nothing');
  next(); // a batch
  next(); // its watermark
  clock.advance(5_000); // downstream takes 5 s to make room (or a checkpoint, a GC, a busy thread): no poll meanwhile
  next();
  assert.deepEqual(kinds, ['records', 'watermark', 'records'], 'no idle event: the split had records all along');
});

test('a split is idle after idleAfterMs without a batch, counted from the first check that found none', () => {
  const clock = new ManualClock(0);
  const reader = busyReader();
  const events = new SourceWatermarks(boundedOutOfOrderness<{ ts: number }>({ maxOutOfOrdernessMs: 0, timestamp: (r) => r.ts, idleAfterMs: 1_000 }), reader, clock, 'b');
  events.poll();
  events.assign([{ ts: 1 }]);
  clock.advance(300); // no check for 300 ms after the batch: not counted
  assert.deepEqual(events.poll(), [{ kind: 'watermark', watermark: 0 }], 'the check after the batch');
  assert.equal(events.nextIdleCheck(), 300, 'the next check starts the quiet time: at once');
  clock.advance(200);
  assert.deepEqual(events.poll(), [], 'the first check that found no batch: quiet from now (500)');
  assert.equal(events.nextIdleCheck(), 1_500);
  clock.advance(999);
  assert.deepEqual(events.poll(), []);
  clock.advance(1);
  assert.deepEqual(events.poll(), [{ kind: 'idle', idle: true }]);
});

/** A sink that takes 30 ms per batch: the sources behind it spend most of their time backpressured. */
function slowSink(counts: Map<number, number>): Sink<unknown> {
  return {
    name: 'slow',
    createWriter: () => ({
      start: async () => {},
      write: async (records) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        for (const r of records as Array<{ window: number; count: number }>) counts.set(r.window, (counts.get(r.window) ?? 0) + r.count);
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}

test('a window behind a backpressured source with idleness drops nothing as late, and counts every record', async () => {
  const RECORDS = 1_500;
  const counts = new Map<number, number>();
  // Two sources of the same event time, each idle after 20 ms without a record, into one window per 100 ms (and per
  // record: each window counts one record, so the sink is slow and the sources are held back).
  const job = defineJob({ name: 'idle-under-backpressure', channelCapacityBytes: 4_096 }, (env) => {
    const events = (uid: string, offset: number) =>
      env
        .source(datagen({ count: RECORDS, batchSize: 20, record: (i) => ({ ts: i * 100 + offset }) }), { watermarks: monotonousTimestamps<{ ts: number }>({ timestamp: (r) => r.ts, idleAfterMs: 20 }) })
        .uid(uid);
    events('a', 0)
      .union(events('b', 20_000))
      .keyBy((r) => Math.floor(r.ts / 100))
      .window(tumblingWindows({ sizeMs: 100 }))
      .aggregate({ createAccumulator: () => 0, add: (n: number) => n + 1, result: (n: number, window) => ({ window: window.start, count: n }) })
      .uid('windows')
      .sink(slowSink(counts))
      .uid('out');
  });
  const runner = new JobRunner({ job, workers: 0 });
  assert.equal(await runner.run(), 'finished');
  assert.equal(runner.metrics().reduce((n, stage) => n + (stage.lateRecordsDropped ?? 0), 0), 0, 'no record dropped as late');
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 2 * RECORDS, 'every record counted');
  assert.equal(counts.size, RECORDS + 200, 'one window per 100 ms of event time (b runs 20 s past a)');
});
