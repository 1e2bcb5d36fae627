/**
 * Event time end to end: timestamps from a watermark strategy at the source, one watermark per split, in-band
 * watermarks through keyed channels (in-process and between worker threads), event-time timers of a keyed process
 * function, checkpointed and restored after failures, and the final watermark at the end of bounded input.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner, type JobEvent } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { firedFailures } from './fixtures/seeded-failures.ts';
import windowedCounts, { expectedWindows, type WindowCount } from './fixtures/windowed-counts.ts';

const RECORDS = 20_000;
const FAIL_AT = [RECORDS / 4, (RECORDS * 3) / 5];

for (const workers of [0, 2]) {
  test(`1-second event-time counts per key from out-of-order splits equal a brute-force count, across two seeded failures (workers ${workers})`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const output = join(dir, 'out');
    const events: JobEvent[] = [];
    const runner = new JobRunner({
      job: windowedCounts as JobDefinition,
      params: new JobParams([['output', output], ['records', String(RECORDS)], ['rate', '40000'], ['failAt', FAIL_AT.join(',')]]),
      store,
      workers,
      jobModule: new URL('./fixtures/windowed-counts.ts', import.meta.url),
    });
    runner.events.subscribe((e) => events.push(e));
    assert.equal(await runner.run(), 'finished');
    const rows = (await readPartFiles<WindowCount>(output)).map((r) => JSON.stringify({ key: r.key, start: r.start, count: r.count })).sort();
    assert.deepEqual(rows, expectedWindows(RECORDS), 'every window once, with its exact count');
    assert.equal(firedFailures(output, FAIL_AT), 2, 'both seeded failures fired');
    const restarts = events.filter((e) => e.type === 'attempt-started' && e.attempt > 0).length;
    assert.ok(restarts >= 1 && restarts <= 2, `the failures restarted the job (once if both landed in one attempt): ${restarts} restarts`);
  });
}
