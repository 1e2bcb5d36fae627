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
    const byKey = new Map<string, Counted[]>();
    for (const c of written) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
    for (const [key, list] of byKey) {
      list.sort((x, y) => x.n - y.n);
      assert.deepEqual(list.map((c) => c.n), list.map((_, n) => n + 1), `counts of ${key}`);
      const expected = Array.from({ length: 2 * RECORDS }, (_, i) => i).filter((i) => keyOf(i) === key);
      assert.deepEqual(list.map((c) => c.i).sort((x, y) => x - y), expected, `events of ${key}`);
      // Source a's splits (halves of 0..n-1) reach the count through forward channels and a hash edge: in order.
      for (const half of [0, 1]) {
        const inSplit = list.map((c) => c.i).filter((i) => i < RECORDS && (i < RECORDS / 2 ? 0 : 1) === half);
        assert.deepEqual(inSplit, [...inSplit].sort((x, y) => x - y), `${key}: split ${half} of a in order`);
      }
    }
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
