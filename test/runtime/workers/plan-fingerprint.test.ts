import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams } from '../../../runtime/api/index.ts';
import type { RestoredState } from '../../../runtime/exec/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { ownerOfKeyGroup } from '../../../runtime/state/index.ts';
import { firstDifference, planFingerprint, workerOf } from '../../../runtime/workers/index.ts';
import { answerChainRead, ChainReads } from '../../../runtime/workers/chain-reads.ts';
import { fromRestoredSubset, restoredSubset } from '../../../runtime/workers/restored-subset.ts';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';

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

test('a worker gets the numbers of the key groups its subtasks own, every source position and all operator state; it reads each chain from main when asked', async () => {
  const plan = buildPhysicalPlan(job('sum'), { params: new JobParams() });
  const keyed = new Map(Array.from({ length: 16 }, (_, g) => [g, new Uint8Array([g])] as [number, Uint8Array]));
  let readsOnMain = 0;
  const restored: RestoredState = {
    checkpointId: 7,
    sourcePositions: (uid) => (uid === 'in' ? new Map([['0', 2]]) : undefined),
    keyedState: (uid) => (uid === 'sum' ? { keys: () => keyed.keys(), get: (g) => (readsOnMain++, keyed.get(g)) } : undefined),
    operatorState: (uid) => (uid === 'in' ? [{ a: 1 }, { b: 2 }] : undefined),
  };
  const seen: number[] = [];
  for (let w = 0; w < 2; w++) {
    const requested: Array<[string, number]> = [];
    const readsBefore = readsOnMain;
    const subset = structuredClone(restoredSubset(restored, plan, w, 2));
    assert.equal(readsOnMain, readsBefore, 'the start message carries no chain');
    const mine = fromRestoredSubset(subset, async (uid, group) => {
      requested.push([uid, group]);
      return (await answerChainRead(restored, { type: 'read-chain', id: requested.length, uid, keyGroup: group })).reply.chain!;
    });
    assert.equal(mine.checkpointId, 7);
    assert.deepEqual([...(mine.sourcePositions('in') ?? [])], [['0', 2]]);
    assert.deepEqual(mine.operatorState('in'), [{ a: 1 }, { b: 2 }]);
    const chains = mine.keyedState('sum')!;
    for (const group of chains.keys()) {
      assert.equal(workerOf(ownerOfKeyGroup(group, 3, 16), 2), w, `key group ${group} went to the worker of its owner`);
      assert.deepEqual([...(await chains.get(group))!], [group]);
      seen.push(group);
    }
    const others = [...keyed.keys()].find((g) => workerOf(ownerOfKeyGroup(g, 3, 16), 2) !== w)!;
    assert.equal(chains.get(others), undefined, "another worker's key group is not asked for");
    assert.deepEqual(requested.map(([uid]) => uid), requested.map(() => 'sum'));
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [...keyed.keys()], 'every key group went to exactly one worker');
  assert.equal(readsOnMain, 16, 'main read each chain once, when asked');
});

test("main answers a worker's read of a chain it cannot give with the error, code kept", async () => {
  const corrupt: RestoredState = {
    checkpointId: 3,
    sourcePositions: () => undefined,
    keyedState: () => ({
      keys: () => [5],
      get: () => {
        throw new SluiceError('SLUICE_CHECKPOINT_CORRUPT', 'blob changed after it was verified');
      },
    }),
    operatorState: () => undefined,
  };
  const failed = await answerChainRead(corrupt, { type: 'read-chain', id: 1, uid: 'sum', keyGroup: 5 });
  assert.equal(failed.reply.chain, undefined);
  assert.equal(failed.reply.error?.code, 'SLUICE_CHECKPOINT_CORRUPT');
  const missing = await answerChainRead(undefined, { type: 'read-chain', id: 2, uid: 'sum', keyGroup: 5 });
  assert.match(missing.reply.error?.message ?? '', /key group 5 of operator "sum"/);

  const sent: unknown[] = [];
  const reads = new ChainReads((request) => sent.push(request));
  const first = reads.read('sum', 5);
  reads.settle({ ...failed.reply, id: 0 }); // the first read is request 0
  await assert.rejects(first, (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT'));
  const second = reads.read('sum', 6);
  reads.stop(new Error('stopping'));
  await assert.rejects(second, /stopping/);
  await assert.rejects(reads.read('sum', 7), /stopping/, 'a read after the worker stopped fails at once');
  assert.equal(sent.length, 2);
});
