import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, tally, type Numbered } from './source-test-support.ts';

const RECORDS = 4_000;
const PARTITIONS = 4;

for (const parallelism of [1, 2, 3, 4, 6]) {
  test(`p = ${parallelism}: every record of 4 partitions exactly once, across injected failures and restores`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'exact' });
    const producer = await cluster.producer();
    // Half before the job starts, half while it runs (after its first failure).
    await produceNumbered(producer, topic, PARTITIONS, 0, RECORDS / 2);
    const target = new CollectTarget<{ i: number; partition: number; offset: number }>();
    const failAt = new Set([Math.floor(RECORDS * 0.3), Math.floor(RECORDS * 0.8)]);
    const injected: number[] = [];
    const job = defineJob(
      { name: `exact-${parallelism}`, parallelism, checkpoints: { intervalMs: 100 }, restart: { type: 'fixed-delay', attempts: 10, delayMs: 10 } },
      (env) => {
        env
          .source(kafkaSource<Numbered>({ brokers: cluster.brokers, topics: [topic], format: 'json', maxBatchRecords: 200 }))
          .uid('kafka')
          .map((r) => {
            if (failAt.delete(r.value.i)) {
              injected.push(r.value.i);
              throw new Error(`injected failure at record ${r.value.i}`);
            }
            return { i: r.value.i, partition: r.partition, offset: r.offset };
          })
          .sink(collectSink(target));
      },
    );
    const dataDir = await tempDir(t);
    const runner = await runUntil({ job, dataDir }, async (runner) => {
      await waitFor(() => injected.length >= 1, { timeoutMs: 30_000, message: 'the first injected failure' });
      await produceNumbered(producer, topic, PARTITIONS, RECORDS / 2, RECORDS);
      await waitFor(() => target.records.length >= RECORDS, {
        timeoutMs: 40_000,
        message: `${RECORDS} committed records`,
        describe: () => ({ committed: target.records.length, injected }),
      });
      // Anything duplicated would be committed by the next checkpoints.
      await checkpointsCompleted(runner, 2);
    });
    assert.deepEqual(injected.sort((a, b) => a - b), [Math.floor(RECORDS * 0.3), Math.floor(RECORDS * 0.8)]);
    assert.ok(runner.attempts >= 3, `attempts: ${runner.attempts}`);
    const { distinct, duplicates } = tally(target.records.map((r) => r.i));
    assert.deepEqual(duplicates, [], 'no record twice');
    assert.equal(distinct, RECORDS, 'every record once');
    assert.equal(target.records.length, RECORDS);
    // Offsets are per partition 0..RECORDS/PARTITIONS-1 and each record sits where it was produced.
    for (const r of target.records) assert.equal(r.partition, r.i % PARTITIONS);
  });
}
