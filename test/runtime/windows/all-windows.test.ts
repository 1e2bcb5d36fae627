/**
 * Windows over a whole stream (`windowAll`, `countWindowAll`): one window operator of parallelism 1 that stays at 1
 * when the job rescales, exact through seeded crashes and rescales — sliding event-time windows over out-of-order
 * events from four splits against a brute-force count, and count windows over one split in its order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, JobParams } from '../../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { pacedByCheckpoints } from '../../support/paced-source.ts';
import { runThroughCrashesAndRescales } from './fixtures/crashes-and-rescales.ts';
import { eventOf, OUT_OF_ORDERNESS_MS, SLIDING, type Event } from '../event-time/fixtures/window-kinds.ts';

const RECORDS = 6_000;

interface PerWindow {
  readonly start: number;
  readonly count: number;
  readonly key: string;
}

interface Sum {
  readonly end: number;
  readonly first: number;
  readonly sum: number;
}

/** Events per sliding window over all keys, by brute force. */
function expectedPerWindow(): string[] {
  const counts = new Map<number, number>();
  for (let i = 0; i < RECORDS; i++) {
    const ts = eventOf(i).ts;
    // Windows of 2 s every 500 ms: those whose [start, start + 2000) holds ts.
    for (let start = ts - (ts % 500); start > ts - 2_000; start -= 500) counts.set(start, (counts.get(start) ?? 0) + 1);
  }
  return [...counts].map(([start, count]) => JSON.stringify({ start, count, key: 'all' })).sort();
}

function allWindowsJob(targets: { perWindow: CollectTarget<PerWindow>; sums: CollectTarget<Sum> }) {
  return defineJob({ name: 'all-windows', parallelism: 2, checkpoints: { intervalMs: 20 } }, (env) => {
    env
      .source(pacedByCheckpoints(datagen({ count: RECORDS, splits: 4, batchSize: 50, record: eventOf }), 150), {
        watermarks: boundedOutOfOrderness({ maxOutOfOrdernessMs: OUT_OF_ORDERNESS_MS, timestamp: (e: Event) => e.ts }),
      })
      .uid('events')
      .windowAll(SLIDING)
      .aggregate({ createAccumulator: () => 0, add: (n: number) => n + 1, result: (count, window, key): PerWindow => ({ start: window.start, count, key: String(key) }) })
      .uid('per-window')
      .sink(collectSink(targets.perWindow))
      .uid('per-window-out');
    // One split read by one subtask: the stream's order is the records' numbers.
    env
      .source(pacedByCheckpoints(datagen({ count: RECORDS, splits: 1, batchSize: 50, record: (i) => i }), 150))
      .uid('numbers')
      .parallelism(1)
      .countWindowAll(100)
      .process({ process: (ns, ctx): Sum => ({ end: ctx.window.end, first: ns[0] as number, sum: ns.reduce((a, b) => a + b, 0) }) })
      .uid('sums')
      .sink(collectSink(targets.sums))
      .uid('sums-out');
  });
}

test('windowAll and countWindowAll run at parallelism 1 whatever the job parallelism, and are exact through crashes and rescales 2 → 3 → 1', async (t) => {
  const targets = { perWindow: new CollectTarget<PerWindow>(), sums: new CollectTarget<Sum>() };
  const job = allWindowsJob(targets);
  for (const parallelism of [2, 5]) {
    const plan = buildPhysicalPlan(job, { params: new JobParams(), parallelism });
    const stageOf = (uid: string) => plan.stages.find((s) => s.operators.some((o) => o.uid === uid));
    assert.equal(stageOf('per-window')?.parallelism, 1);
    assert.equal(stageOf('sums')?.parallelism, 1);
    assert.equal(stageOf('events')?.parallelism, parallelism);
  }

  // Each source split hands out 150 records per checkpoint: the rescales come with most of the input ahead.
  await runThroughCrashesAndRescales(t, job, 13);

  assert.deepEqual(targets.perWindow.records.map((r) => JSON.stringify(r)).sort(), expectedPerWindow());
  const sums = [...targets.sums.records].sort((a, b) => a.end - b.end);
  assert.equal(sums.length, RECORDS / 100);
  sums.forEach((s, w) => assert.deepEqual(s, { end: (w + 1) * 100, first: w * 100, sum: 100 * w * 100 + (99 * 100) / 2 }));
});
