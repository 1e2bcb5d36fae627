import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { firedFaults, fireOnce } from '../../connectors/kafka/fixtures/seeded-faults.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { checkpointedRecords, compareUpdates, expectedCounts, keyedCount, KEYED_COUNT_MODULE, type Count } from './fixtures/keyed-count-to-files.ts';

const KEYS = 1_000;

/** A fresh store, output directory and fault-marker directory. */
async function dirs(t: TestContext): Promise<{ store: CheckpointStore; output: string; faults: string }> {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  const faults = join(dir, 'faults');
  await Promise.all([mkdir(output), mkdir(faults)]);
  return { store, output, faults };
}

const params = (settings: Record<string, string | number>): JobParams => new JobParams(Object.entries(settings).map(([k, v]): [string, string] => [k, String(v)]));

/** Nothing but committed part files in `output`: no transaction (in-progress or pending file) left open. */
async function leftovers(output: string): Promise<string[]> {
  return (await readdir(output)).filter((n) => !n.endsWith('.ndjson'));
}

for (const workers of [0, 2]) {
  test(`keyed counts are exactly once across failures in operators, between barrier and ack, and in the store write (workers ${workers})`, async (t) => {
    const { store, output, faults } = await dirs(t);
    const RECORDS = 200_000;
    const random = seededRandom(20261122);
    // Failure points: record indexes where the map throws, and the first checkpoints past set progress marks whose
    // pre-commit or store write fails (by progress, not by chance: the final checkpoint of the bounded input is past
    // every mark, so each one fails at the latest there, however fast or slow the machine). The faults are params of
    // the job module, fired once each through marker files, so worker threads fail at the same points.
    const mapFailures = [0.15, 0.4, 0.7].map((f) => Math.floor(f * RECORDS + random() * 5_000));
    const runner: JobRunner = new JobRunner({
      job: keyedCount,
      params: params({ output, records: RECORDS, splits: 4, batchSize: 500, rate: 250_000, keys: KEYS, faults, failRecords: mapFailures.join(','), preCommitAfter: `${RECORDS * 0.2},${RECORDS * 0.55}` }),
      parallelism: 3,
      store,
      workers,
      jobModule: KEYED_COUNT_MODULE,
      // The store runs on the main thread, in either mode.
      // By the positions of the checkpoint being stored: the final one is past both marks, so each fires by then.
      beforeCheckpointStore: (id, positions) => {
        for (const at of [0.3, 0.65]) {
          if (checkpointedRecords(positions, RECORDS, 4) >= RECORDS * at && fireOnce(faults, `store-${at}`, `store@${id}`)) throw new Error(`injected failure while storing checkpoint ${id}`);
        }
      },
    });
    let checkpoints = 0;
    const failures = failedAttempts(runner);
    runner.events.subscribe((e) => {
      if (e.type === 'checkpoint-completed') checkpoints++;
    });

    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.workers, workers, 'ran on the workers asked for');
    const injected = firedFaults(faults);
    // Every injected failure happened, whatever the speed; how many checkpoints fit in between depends on the machine.
    assert.deepEqual(injected.map((i) => i.replace(/@\d+$/, '')).sort(), ['map', 'map', 'map', 'pre-commit', 'pre-commit', 'store', 'store'], `injected: ${injected.join(', ')}`);
    // Two injections may land in one attempt (map failures in different subtasks, pre-commits of two sink subtasks on
    // one barrier), so the number of failed attempts is only bounded by the injections, not equal to them.
    assertOnlyInjectedFailures(runner, failures, injected, 1);
    assert.ok(checkpoints >= 1, 'the job made progress past its failures: its final checkpoint completed');
    const updates = await readPartFiles<Count>(output);
    assert.equal(updates.length, RECORDS, 'one committed update per input record: none lost, none duplicated');
    assert.deepEqual(compareUpdates(updates, expectedCounts(RECORDS, KEYS)), []);
    assert.deepEqual(await leftovers(output), [], 'no transaction left open');
  });

  for (const newParallelism of [1, 2, 5, 8]) {
    test(`a checkpoint taken at p = 3 restores at p = ${newParallelism} and counts continue exactly (workers ${workers})`, async (t) => {
      const { store, output } = await dirs(t);
      const RECORDS = 60_000;
      const run = (parallelism: number, rate: number) =>
        new JobRunner({
          job: keyedCount,
          params: params({ output, records: RECORDS, splits: 4, batchSize: 250, rate, keys: KEYS }),
          parallelism,
          store,
          workers,
          jobModule: KEYED_COUNT_MODULE,
          restartStrategy: { type: 'none' },
        });

      // First run at p = 3: stop it at the first checkpoint once output was committed. The source is slowed to take
      // 3 s, so that checkpoint comes well before its end even on a loaded machine (checkpoints are every 40 ms).
      const first = run(3, 20_000);
      first.events.subscribe((e) => {
        if (e.type === 'checkpoint-completed' && readdirSync(output).some((n) => n.endsWith('.ndjson'))) first.cancel('stopped by the test');
      });
      assert.equal(await first.run(), 'cancelled');
      assert.equal(first.workers, workers, 'ran on the workers asked for');
      const committedBefore = (await readPartFiles(output)).length;
      assert.ok(committedBefore > 0 && committedBefore < RECORDS, `first run committed part of the input (${committedBefore})`);

      // Second run at the new parallelism resumes from the latest checkpoint.
      const second = run(newParallelism, 0);
      let restoredFrom: number | undefined;
      second.events.subscribe((e) => {
        if (e.type === 'attempt-started') restoredFrom = e.restoredFrom;
      });
      assert.equal(await second.run(), 'finished');
      assert.equal(second.workers, Math.min(workers, newParallelism), 'ran on the workers asked for (at most one per subtask)');
      assert.ok(restoredFrom !== undefined, 'the second run restored a checkpoint');
      const updates = await readPartFiles<Count>(output);
      assert.equal(updates.length, RECORDS, 'one committed update per input record across both runs');
      assert.deepEqual(compareUpdates(updates, expectedCounts(RECORDS, KEYS)), []);
      assert.deepEqual(await leftovers(output), [], 'no transaction left open');
    });
  }
}
