import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineJob } from '../../../runtime/api/index.ts';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { leavesMainThreadACore, workerCount } from '../../../runtime/workers/index.ts';

/** A plan whose widest stage has parallelism `widest` (the source is narrower). */
function planOf(widest: number) {
  const job = defineJob({ name: 'count-me', parallelism: widest }, (env) => {
    env.source(datagen({ count: 1, record: (i) => i })).parallelism(1).rebalance().map((i) => i).sink(collectSink(new CollectTarget<number>()));
  });
  return buildPhysicalPlan(job);
}

test('by default one worker per core, capped by the widest stage', () => {
  assert.deepEqual(workerCount({ requested: undefined, plan: planOf(4), canUseWorkers: true, cores: 2 }), { workers: 2, source: 'default' });
  assert.deepEqual(workerCount({ requested: undefined, plan: planOf(3), canUseWorkers: true, cores: 8 }), { workers: 3, source: 'default' });
  assert.deepEqual(workerCount({ requested: undefined, plan: planOf(1), canUseWorkers: true, cores: 8 }), { workers: 1, source: 'default' });
});

test('a job without a module or with an injected clock runs in-process by default', () => {
  assert.deepEqual(workerCount({ requested: undefined, plan: planOf(4), canUseWorkers: false, cores: 8 }), { workers: 0, source: 'default' });
});

test('a requested count wins, is capped by the widest stage, and 0 means in-process', () => {
  assert.deepEqual(workerCount({ requested: 0, plan: planOf(4), canUseWorkers: true, cores: 8 }), { workers: 0, source: 'requested' });
  assert.deepEqual(workerCount({ requested: 16, plan: planOf(4), canUseWorkers: true, cores: 2 }), { workers: 4, source: 'requested' });
  assert.deepEqual(workerCount({ requested: 1, plan: planOf(4), canUseWorkers: true, cores: 8 }), { workers: 1, source: 'requested' });
});

test('a count that is not a whole number ≥ 0 is refused with SLUICE_INVALID_OPTION, not retried', () => {
  for (const requested of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => workerCount({ requested, plan: planOf(2), canUseWorkers: true }),
      (err: Error & { code?: string; retriable?: boolean }) => err.code === 'SLUICE_INVALID_OPTION' && err.retriable === false && /whole number ≥ 0/.test(err.message),
    );
  }
});

test('an attempt leaves the main thread a core when it has fewer workers than cores (then heap state sends deltas for full checkpoints)', () => {
  assert.equal(leavesMainThreadACore(1, 2), true);
  assert.equal(leavesMainThreadACore(3, 4), true);
  assert.equal(leavesMainThreadACore(2, 2), false, 'every core runs a worker: the merge would take their CPU');
  assert.equal(leavesMainThreadACore(4, 2), false);
  assert.equal(leavesMainThreadACore(0, 8), false, 'in-process: the subtasks run on the main thread itself');
});
