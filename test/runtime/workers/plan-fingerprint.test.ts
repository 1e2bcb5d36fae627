import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams } from '../../../runtime/api/index.ts';
import type { RestoredState } from '../../../runtime/exec/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { ownerOfKeyGroup } from '../../../runtime/state/index.ts';
import { firstDifference, planFingerprint, workerOf } from '../../../runtime/workers/index.ts';
import { fromRestoredSubset, restoredSubset } from '../../../runtime/workers/restored-subset.ts';

const job = (uid: string, hash = true) =>
  defineJob({ name: 'fp', parallelism: 3, maxParallelism: 16 }, (env) => {
    const s = env.source(collection([1, 2, 3])).uid('in');
    (hash ? s.keyBy((n) => n % 2).reduce((a, b) => a + b).uid(uid) : s.map((n) => n).uid(uid)).sink(collectSink(new CollectTarget<number>()));
  });

test('equal builds give equal fingerprints; a changed uid or partitioning is named as the first difference', () => {
  const a = planFingerprint(buildPhysicalPlan(job('sum'), { params: new JobParams() }));
  assert.equal(firstDifference(a, planFingerprint(buildPhysicalPlan(job('sum'), { params: new JobParams() }))), undefined);
  const uid = firstDifference(a, planFingerprint(buildPhysicalPlan(job('total'), { params: new JobParams() })));
  assert.match(uid?.expected ?? '', /uid "sum"/);
  assert.match(uid?.actual ?? '', /uid "total"/);
  const forward = firstDifference(a, planFingerprint(buildPhysicalPlan(job('sum', false), { params: new JobParams() })));
  assert.ok(forward !== undefined, 'a forward edge instead of a hash edge differs');
  const p = firstDifference(a, planFingerprint(buildPhysicalPlan(job('sum'), { params: new JobParams(), parallelism: 2 })));
  assert.match(p?.expected ?? '', /parallelism 3/);
});

test('slot sharing: subtask i of every stage on worker i mod W', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => workerOf(i, 2)), [0, 1, 0, 1, 0]);
  assert.deepEqual([0, 1, 2].map((i) => workerOf(i, 4)), [0, 1, 2]);
});

test('a worker gets the key groups its subtasks own, every source position and all operator state', () => {
  const plan = buildPhysicalPlan(job('sum'), { params: new JobParams() });
  const keyed = new Map(Array.from({ length: 16 }, (_, g) => [g, new Uint8Array([g])] as [number, Uint8Array]));
  const restored: RestoredState = {
    checkpointId: 7,
    sourcePositions: (uid) => (uid === 'in' ? new Map([['0', 2]]) : undefined),
    keyedState: (uid) => (uid === 'sum' ? keyed : undefined),
    operatorState: (uid) => (uid === 'in' ? [{ a: 1 }, { b: 2 }] : undefined),
  };
  const seen: number[] = [];
  for (let w = 0; w < 2; w++) {
    const mine = fromRestoredSubset(structuredClone(restoredSubset(restored, plan, w, 2)));
    assert.equal(mine.checkpointId, 7);
    assert.deepEqual([...(mine.sourcePositions('in') ?? [])], [['0', 2]]);
    assert.deepEqual(mine.operatorState('in'), [{ a: 1 }, { b: 2 }]);
    for (const [group, bytes] of mine.keyedState('sum') ?? []) {
      assert.equal(workerOf(ownerOfKeyGroup(group, 3, 16), 2), w, `key group ${group} went to the worker of its owner`);
      assert.deepEqual([...bytes], [group]);
      seen.push(group);
    }
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [...keyed.keys()], 'every key group went to exactly one worker');
});
