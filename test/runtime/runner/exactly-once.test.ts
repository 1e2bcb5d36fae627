import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { withSinkFaults } from '../../support/faulty-sink.ts';

const RECORDS = 200_000;
const KEYS = 1_000;
const keyOf = (i: number): string => `k${(i * 7919) % KEYS}`;

interface Count {
  key: string;
  n: number;
}

/** What a failure-free run must produce: every key's final count. */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) counts.set(keyOf(i), (counts.get(keyOf(i)) ?? 0) + 1);
  return counts;
}

/** Final count per key from the committed updates (the reduce emits one update per record). */
function finalCounts(records: readonly Count[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const r of records) last.set(r.key, r.n);
  return last;
}

test('keyed counts are exactly once across failures in operators, between barrier and ack, and in the store write', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const random = seededRandom(20261122);
  const target = new CollectTarget<Count>();
  // Failure points: record indexes where the map throws, and the first checkpoints past set progress marks whose
  // pre-commit or store write fails (by progress, not by chance: the final checkpoint of the bounded input is past
  // every mark, so each one fails at the latest there, however fast or slow the machine).
  const mapFailures = new Set([0.15, 0.4, 0.7].map((f) => Math.floor(f * RECORDS + random() * 5_000)));
  let preCommitFailures = 2;
  let storeFailures = 2;
  let processed = 0;
  const injected: string[] = [];

  const job = defineJob(
    { name: 'exactly-once', parallelism: 3, checkpoints: { intervalMs: 50 }, restart: { type: 'fixed-delay', attempts: 20, delayMs: 5 } },
    (env) => {
      env
        .source(datagen({ count: RECORDS, splits: 4, batchSize: 500, ratePerSecond: 250_000, record: (i) => ({ key: keyOf(i), n: 1, i }) }))
        .uid('numbers')
        .map((r) => {
          processed++;
          if (mapFailures.delete(r.i)) {
            injected.push(`map@${r.i}`);
            throw new Error(`injected failure at record ${r.i}`);
          }
          return { key: r.key, n: r.n };
        })
        .keyBy((r) => r.key)
        .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
        .uid('counts')
        .sink(
          withSinkFaults(collectSink(target), { preCommit: () => {
            if (preCommitFailures > 0 && processed > RECORDS * (preCommitFailures === 2 ? 0.2 : 0.55)) {
              preCommitFailures--;
              injected.push('pre-commit');
              return true;
            }
            return false;
          } }),
        );
    },
  );
  const runner = new JobRunner({
    job,
    store,
    beforeCheckpointStore: (id) => {
      if (storeFailures > 0 && processed > RECORDS * (storeFailures === 2 ? 0.3 : 0.65)) {
        storeFailures--;
        injected.push(`store@${id}`);
        throw new Error(`injected failure while storing checkpoint ${id}`);
      }
    },
  });
  let checkpoints = 0;
  const failures = failedAttempts(runner);
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed') checkpoints++;
  });

  assert.equal(await runner.run(), 'finished');
  // Every injected failure happened, whatever the speed; how many checkpoints fit in between depends on the machine.
  assert.deepEqual(
    [...injected].map((i) => i.replace(/@\d+$/, '')).sort(),
    ['map', 'map', 'map', 'pre-commit', 'pre-commit', 'store', 'store'],
    `injected: ${injected.join(', ')}`,
  );
  // Two injections may land in one attempt (map failures in different subtasks, pre-commits of two sink subtasks on
  // one barrier), so the number of failed attempts is only bounded by the injections, not equal to them.
  assertOnlyInjectedFailures(runner, failures, injected, 1);
  assert.ok(checkpoints >= 1, 'the job made progress past its failures: its final checkpoint completed');
  assert.equal(target.records.length, RECORDS, 'one committed update per input record: none lost, none duplicated');
  assert.deepEqual(finalCounts(target.records), expectedCounts());
  assert.equal(target.pendingTransactions, 0, 'no transaction left open');
});

for (const newParallelism of [1, 2, 5, 8]) {
  test(`a checkpoint taken at p = 3 restores at p = ${newParallelism} and counts continue exactly`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(dir);
    t.after(() => store.close());
    const target = new CollectTarget<Count>();
    const build = (parallelism: number, rate: number | undefined) =>
      defineJob({ name: 'rescale', parallelism, checkpoints: { intervalMs: 30 }, restart: { type: 'none' } }, (env) => {
        env
          .source(datagen({ count: 60_000, splits: 4, batchSize: 250, ...(rate === undefined ? {} : { ratePerSecond: rate }), record: (i) => ({ key: keyOf(i), n: 1 }) }))
          .uid('numbers')
          .keyBy((r) => r.key)
          .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
          .uid('counts')
          .sink(collectSink(target));
      });

    // First run at p = 3: stop it at the first checkpoint that committed output. The source is slowed to take 3 s, so
    // that checkpoint comes well before its end even on a loaded machine (checkpoints are every 30 ms).
    const first = new JobRunner({ job: build(3, 20_000), store });
    first.events.subscribe((e) => {
      if (e.type === 'checkpoint-completed' && target.records.length > 0) first.cancel('stopped by the test');
    });
    assert.equal(await first.run(), 'cancelled');
    const committedBefore = target.records.length;
    assert.ok(committedBefore > 0 && committedBefore < 60_000, `first run committed part of the input (${committedBefore})`);

    // Second run at the new parallelism resumes from the latest checkpoint.
    const second = new JobRunner({ job: build(newParallelism, undefined), store });
    let restoredFrom: number | undefined;
    second.events.subscribe((e) => {
      if (e.type === 'attempt-started') restoredFrom = e.restoredFrom;
    });
    assert.equal(await second.run(), 'finished');
    assert.ok(restoredFrom !== undefined, 'the second run restored a checkpoint');
    const expected = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
    assert.equal(target.records.length, 60_000, 'one committed update per input record across both runs');
    assert.deepEqual(finalCounts(target.records), expected);
  });
}
