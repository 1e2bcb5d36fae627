/**
 * Fan-out: one stream consumed by two pipelines, each ending in an exactly-once sink. Both outputs are exact through
 * a seeded restart, in-process and on worker threads; the plan ends the shared stream's stage there and feeds the
 * same-parallelism consumer through forward channels (subtask i to subtask i).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { planChannels } from '../../../runtime/exec/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertCountedPerKey, indexesByKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import fanOut, { keyOf, type Count, type Event } from './fixtures/fan-out.ts';

const RECORDS = 6_000;
const FIXTURE = new URL('./fixtures/fan-out.ts', import.meta.url);
const params = (dir: string, failAt: number): JobParams =>
  new JobParams([['raw', join(dir, 'raw')], ['counts', join(dir, 'counts')], ['records', String(RECORDS)], ['failAt', String(failAt)]]);

test('a stream consumed twice ends its stage; the same-parallelism consumer reads it through forward channels', () => {
  const plan = buildPhysicalPlan(fanOut as JobDefinition, { params: params('/tmp/unused', -1) });
  assert.deepEqual(plan.stages.map((s) => s.operators.map((o) => o.uid)), [['events', 'faults'], ['raw'], ['counts', 'counted']]);
  assert.deepEqual(plan.stages[0]?.outputs, [1, 2]);
  assert.equal(plan.stages[1]?.inputs[0]?.partitioning, 'forward');
  assert.equal(plan.stages[2]?.inputs[0]?.partitioning, 'hash');
  const channels = planChannels(plan);
  assert.deepEqual(channels.filter((c) => c.stage === 1).map((c) => [c.from, c.to]), [[0, 0], [1, 1]], 'forward: subtask i to subtask i only');
  assert.equal(channels.filter((c) => c.stage === 2).length, 4, 'hash: every pair');
});

for (const workers of [0, 2]) {
  test(`both consumers of a fanned-out stream are exact through a restart (workers ${workers})`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const runner = new JobRunner({ job: fanOut as JobDefinition, params: params(dir, RECORDS / 3), store, workers, jobModule: FIXTURE });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.attempts, 2, 'the seeded failure restarted the job once');

    const raw = await readPartFiles<Event>(join(dir, 'raw'));
    assert.deepEqual(raw.map((e) => e.i).sort((a, b) => a - b), Array.from({ length: RECORDS }, (_, i) => i), 'every event once');

    // Per key: counts 1..n, each event once, and the events of one split (a contiguous half) in their order.
    const counts = await readPartFiles<Count>(join(dir, 'counts'));
    assertCountedPerKey(counts.map((c) => ({ key: c.key, index: c.last, count: c.n })), indexesByKey(RECORDS, keyOf), (i) => (i < RECORDS / 2 ? 0 : 1));
  });
}
