/**
 * union: two sources merged into one stream and counted per key, exactly once through a restart, in-process and on
 * worker threads; each forward input keeps its order; streams of two jobs cannot be merged.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { collection, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, type JobDefinition, type Stream } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertCountedPerKey, indexesByKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import union, { keyOf, type Counted } from './fixtures/union.ts';

const RECORDS = 4_000;
const FIXTURE = new URL('./fixtures/union.ts', import.meta.url);

test('a union is a stage of its own reading every input: forward from an input of its parallelism, rebalanced otherwise', () => {
  const plan = buildPhysicalPlan(union as JobDefinition, { params: new JobParams([['output', '/tmp/unused']]) });
  assert.deepEqual(plan.stages.map((s) => s.operators.map((o) => o.uid)), [['a'], ['b'], ['both', 'faults'], ['counts', 'out']]);
  assert.deepEqual(plan.stages[2]?.inputs.map((i) => [i.stage, i.partitioning]), [[0, 'forward'], [1, 'rebalance']]);
  assert.deepEqual(plan.stages[0]?.outputs, [2]);
  assert.deepEqual(plan.stages[1]?.outputs, [2]);
});

for (const workers of [0, 2]) {
  test(`union: every record of both sources counted exactly once through a restart (workers ${workers})`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const runner = new JobRunner({
      job: union as JobDefinition,
      params: new JobParams([['output', join(dir, 'out')], ['records', String(RECORDS)], ['failAt', String(RECORDS / 3)]]),
      store,
      workers,
      jobModule: FIXTURE,
    });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.attempts, 2, 'the seeded failure restarted the job once');
    const written = await readPartFiles<Counted>(join(dir, 'out'));
    // Source a's splits (halves of 0..n-1) reach the count through forward channels and a hash edge: in order. Source
    // b is rebalanced onto the union's subtasks, so its records have no order to keep.
    const splitOfA = (i: number): number | undefined => (i >= RECORDS ? undefined : i < RECORDS / 2 ? 0 : 1);
    assertCountedPerKey(written.map((c) => ({ key: c.key, index: c.i, count: c.n })), indexesByKey(2 * RECORDS, keyOf), splitOfA);
    assert.equal(written.length, 2 * RECORDS);
  });
}

test('union needs another stream, of the same job', () => {
  let first: Stream<number> | undefined;
  buildPhysicalPlan(defineJob({ name: 'one' }, (env) => {
    first = env.source(collection([1]));
    first.sink({ name: 'x', createWriter: () => ({}) as never });
  }));
  assert.throws(() => buildPhysicalPlan(defineJob({ name: 'alone' }, (env) => void env.source(collection([1])).union().sink({ name: 'x', createWriter: () => ({}) as never }))), /union\(\) needs at least one other stream/);
  assert.throws(
    () => buildPhysicalPlan(defineJob({ name: 'two' }, (env) => void env.source(collection([2])).union(first as Stream<number>).sink({ name: 'x', createWriter: () => ({}) as never }))),
    /union\(\) merges streams of the same job/,
  );
});
