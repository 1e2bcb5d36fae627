/**
 * Event-time windows through the `sluice/testing` harness: seeded crashes at sink writes, barriers and commits give
 * exactly the windows a clean run gives (the harness's source wrapper keeps the per-split watermarks).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob } from '../../../runtime/api/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { assignerOf, eventOf, expectedWindows, OUT_OF_ORDERNESS_MS, type Event, type WindowResult } from './fixtures/window-kinds.ts';

const RECORDS = 6_000;

const sessions = defineJob({ name: 'harness-sessions', parallelism: 2, checkpoints: { intervalMs: 20 } }, (env) => {
  env
    .source(datagen({ count: RECORDS, splits: 4, batchSize: 100, record: eventOf }), {
      watermarks: boundedOutOfOrderness({ maxOutOfOrdernessMs: OUT_OF_ORDERNESS_MS, timestamp: (e: Event) => e.ts }),
    })
    .uid('events')
    .keyBy((e) => e.key)
    .window(assignerOf('session'))
    .process({ process: (records, ctx): WindowResult => ({ key: ctx.key, start: ctx.window.start, end: ctx.window.end, count: records.length }) })
    .uid('sessions')
    .sink(collectSink())
    .uid('out');
});

test('session windows under seeded crashes commit exactly the windows of the brute-force oracle', async (t) => {
  const run = await startJob(sessions, { faults: { crashes: 4, seed: 11 } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  const rows = run.outputs<WindowResult>('out').map((r) => JSON.stringify({ key: r.key, start: r.start, end: r.end, count: r.count })).sort();
  assert.deepEqual(rows, expectedWindows('session', RECORDS));
  assert.ok(run.faults.fired.length > 0, 'some seeded crashes fired');
});
