// Per-key order of the Kafka sink's output, read from the raw log: a job that starts against a backlog writes many
// batches at once, which is when concurrent sends used to overtake each other (a customer's running count went
// 249, 260, 250 in its partition). The run with failures and kill -9 checks the same in
// exactly-once-kafka-to-kafka.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { assertPerKeyOrder, CUSTOMERS, endOffsets, produceOrders, runUntil, settled } from './fixtures/orders-input.ts';
import { ORDERS_JOB_MODULE, ordersJob } from './fixtures/orders-job.ts';

const BACKLOG = 60_000;
const PARTITIONS = 4;

for (const guarantee of ['exactly-once', 'at-least-once'] as const) {
  for (const workers of [0, 2]) test(`${guarantee}: a backlog of ${BACKLOG / 1000}k orders comes out with every customer's records in order in its partition (workers ${workers})`, { timeout: 180_000 }, async (t) => {
    const cluster = await kafkaCluster(t);
    const input = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'orders' });
    const output = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'orders-enriched' });
    const params = new JobParams([
      ['brokers', cluster.brokers.join(',')],
      ['input', input],
      ['output', output],
      ['deadLetters', cluster.uniqueName('orders-dead-letters')],
      ['txnPrefix', cluster.uniqueName('orders-order')],
      ['group', cluster.uniqueName('orders-order-group')],
      // at-least-once: jobs/orders-enrich.ts's pipeline with the same sink at-least-once.
      ['guarantee', guarantee],
    ]);
    await produceOrders(cluster, input, 0, BACKLOG);
    const ends = await endOffsets(cluster, input);

    const store = await CheckpointStore.open(await tempDir(t));
    t.after(() => store.close());
    const runner = new JobRunner({ job: ordersJob, params, store, workers, jobModule: ORDERS_JOB_MODULE });
    await runUntil(runner, settled(runner, input, ends));
    assert.equal(runner.workers, workers, 'ran on the workers asked for');
    assert.equal(runner.attempts, 1, 'no failure: every record is written once');

    const { committed } = await readCommitted(cluster, output, PARTITIONS);
    assert.equal(committed.length, BACKLOG, 'one output record per order');
    assert.equal(assertPerKeyOrder(committed), CUSTOMERS, 'every customer is in the output');
  });
}
