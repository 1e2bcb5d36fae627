/**
 * An event-time timer that `onTimer` registers at or before the current watermark fires in the same watermark
 * advance, in timestamp order with the others (Flink's semantics), not at the next advance, which may never come
 * when the input goes quiet.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, collectSink } from '../../../connectors/dev/index.ts';
import { defineJob, monotonousTimestamps, valueState } from '../../../runtime/api/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';

test('a timer registered in onTimer at or before the watermark fires in the same advance, in timestamp order', async () => {
  const job = defineJob({ name: 'timer-in-ontimer', parallelism: 1 }, (env) => {
    env
      // One batch: the watermark jumps from nothing to 99, then to +∞ at the end of the bounded input.
      .source(collection([{ k: 'a', ts: 0 }, { k: 'a', ts: 100 }], { batchSize: 10 }), { watermarks: monotonousTimestamps({ timestamp: (r: { ts: number }) => r.ts }) })
      .keyBy((r) => r.k)
      .process<string, { seen: ReturnType<typeof valueState<number>> }>({
        state: { seen: valueState<number>() },
        processElement(r, ctx) {
          if (r.ts === 0) {
            ctx.timers.registerEventTimeTimer(0);
            ctx.timers.registerEventTimeTimer(50);
          }
        },
        onTimer(t, ctx) {
          if (t === 0) ctx.timers.registerEventTimeTimer(10); // due in this very advance
          return `timer ${t} (watermark ${ctx.timers.currentWatermark()})`;
        },
      })
      .sink(collectSink())
      .uid('out');
  });
  const run = await startJob(job);
  try {
    await run.finished;
    assert.deepEqual(run.outputs<string>('out'), ['timer 0 (watermark 99)', 'timer 10 (watermark 99)', 'timer 50 (watermark 99)']);
  } finally {
    await run.close();
  }
});
