import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import sourceToFiles, { SOURCE_TO_FILES_MODULE, type ReadRecord } from './fixtures/source-to-files.ts';
import { firedFaults } from './fixtures/seeded-faults.ts';
import { checkpointsCompleted, produceNumbered, runUntil, tally } from './source-test-support.ts';

const RECORDS = 4_000;
const PARTITIONS = 4;

// On 2 workers: p = 2, 3 and 6 place one, an uneven two and three subtasks per worker (some without a partition);
// p = 1 would run on one worker and p = 4 places like p = 2, and every worker variant costs a few seconds of starts.
for (const parallelism of [1, 2, 3, 4, 6]) {
  for (const workers of [1, 4].includes(parallelism) ? [0] : [0, 2]) {
    test(`p = ${parallelism}: every record of 4 partitions exactly once, across injected failures and restores (workers ${workers})`, async (t) => {
      const cluster = await kafkaCluster(t);
      const topic = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'exact' });
      const producer = await cluster.producer();
      // Half before the job starts, half while it runs (after its first failure).
      await produceNumbered(producer, topic, PARTITIONS, 0, RECORDS / 2);
      const dir = await tempDir(t);
      const output = join(dir, 'out');
      const faults = join(dir, 'faults');
      await mkdir(faults);
      const failAt = [Math.floor(RECORDS * 0.3), Math.floor(RECORDS * 0.8)];
      // Faults are params of the job module (fixtures/seeded-faults.ts): each fires once, in whichever thread reads it.
      const params = new JobParams([
        ['brokers', cluster.brokers.join(',')],
        ['topic', topic],
        ['group', cluster.uniqueName('exact')],
        ['output', output],
        ['maxBatchRecords', '200'],
        ['discoveryIntervalMs', '10000'],
        ['faults', faults],
        ['failRecords', failAt.join(',')],
      ]);
      const committed = async (): Promise<ReadRecord[]> => readPartFiles<ReadRecord>(output).catch(() => []);
      const runner = await runUntil(
        { job: sourceToFiles, params, parallelism, workers, jobModule: SOURCE_TO_FILES_MODULE, restartStrategy: { type: 'fixed-delay', attempts: 10, delayMs: 10 }, dataDir: join(dir, 'data') },
        async (runner) => {
          await waitFor(() => firedFaults(faults).length >= 1, { timeoutMs: 30_000, message: 'the first injected failure' });
          await produceNumbered(producer, topic, PARTITIONS, RECORDS / 2, RECORDS);
          await waitFor(async () => (await committed()).length >= RECORDS, {
            timeoutMs: 40_000,
            message: `${RECORDS} committed records`,
            describe: async () => ({ committed: (await committed()).length, injected: firedFaults(faults) }),
          });
          // Anything duplicated would be committed by the next checkpoints.
          await checkpointsCompleted(runner, 2);
          // What `sluice status` shows once the job caught up: each partition once, lag 0, whichever thread reads it.
          const caughtUp = (): boolean => {
            const lags = runner.sourceLag();
            return lags.length === PARTITIONS && new Set(lags.map((l) => l.split)).size === PARTITIONS && lags.every((l) => l.lag === 0);
          };
          await waitFor(caughtUp, { timeoutMs: 20_000, message: 'every partition reported once with lag 0', describe: () => runner.sourceLag() });
        },
      );
      assert.deepEqual(firedFaults(faults), failAt.map((i) => `map@${i}`).sort());
      assert.ok(runner.attempts >= 3, `attempts: ${runner.attempts}`);
      assert.equal(runner.workers, workers, 'ran on the workers asked for');
      const records = await committed();
      const { distinct, duplicates } = tally(records.map((r) => r.i));
      assert.deepEqual(duplicates, [], 'no record twice');
      assert.equal(distinct, RECORDS, 'every record once');
      assert.equal(records.length, RECORDS);
      // Offsets are per partition 0..RECORDS/PARTITIONS-1 and each record sits where it was produced.
      for (const r of records) assert.equal(r.partition, r.i % PARTITIONS);
    });
  }
}
