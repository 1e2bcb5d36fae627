/**
 * An exactly-once writer and a later holder of its transactional ids, such as the job's new owner after a cluster
 * member lost the job. Its close aborts its open transaction at once (read_committed readers are not held back), and
 * only its own; and once its owner lease has ended (`context.stillOwner`), it initialises no id at all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaSink } from '../../../connectors/kafka/sink/index.ts';
import type { SinkWriter, SinkWriterContext } from '../../../runtime/api/index.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { sinkWriterContext } from '../../support/sink-writer-context.ts';

function context(stillOwner?: () => boolean): SinkWriterContext {
  return sinkWriterContext({ job: 'close-abort', ...(stillOwner === undefined ? {} : { stillOwner }) });
}

async function writers(cluster: KafkaCluster) {
  const topic = await cluster.createTopic({ partitions: 1 });
  // One record per send, so what a writer hands over is on the broker before it pre-commits or closes.
  const sink = kafkaSink<number>({ brokers: cluster.brokers, topic, guarantee: 'exactly-once', transactionalIdPrefix: cluster.uniqueName('eos'), batchSize: 1 });
  const open = async (stillOwner?: () => boolean): Promise<SinkWriter<number>> => {
    const writer = sink.createWriter(context(stillOwner));
    // cluster.defer, not t.after: writers disconnect before the broker closes.
    cluster.defer(() => writer.close('cancelled'));
    await writer.start();
    return writer;
  };
  const values = async () => {
    const { committed, aborted } = await readCommitted(cluster, topic, 1);
    return { committed: committed.map((r) => Number(r.value)), aborted: aborted.map((r) => Number(r.value)) };
  };
  return { open, values };
}

test('a writer closed after a failure aborts its open transaction at once', async (t) => {
  const cluster = await kafkaCluster(t);
  const { open, values } = await writers(cluster);
  const writer = await open();
  await writer.write([1, 2, 3]);
  await writer.preCommit(1);
  await writer.commit(1);
  await writer.write([4, 5]);
  // Sent, not yet pre-committed: the open transaction the failed attempt leaves.
  await writer.close('failed');
  assert.deepEqual(await values(), { committed: [1, 2, 3], aborted: [4, 5] });
});

test("a stale writer's close leaves the transactions of the writer that took its ids over alone, pre-committed ones included", async (t) => {
  const cluster = await kafkaCluster(t);
  const { open, values } = await writers(cluster);
  // The stale writer: a cluster member that lost its job, whose attempt closes only after the new owner started.
  const stale = await open();
  await stale.write([1, 2]);
  const next = await open();
  await next.write([10, 11]);
  await next.preCommit(1);
  await next.write([12]);

  await stale.close('failed');
  await next.commit(1);
  await next.preCommit(2);
  await next.commit(2);
  assert.deepEqual((await values()).committed, [10, 11, 12], "the new owner's output, all of it, and none of the stale writer's");
});

test('a writer whose owner lease has ended takes no transactional id over: the holder keeps its pre-committed transaction', async (t) => {
  const cluster = await kafkaCluster(t);
  const { open, values } = await writers(cluster);
  const next = await open(() => true);
  await next.write([10, 11]);
  await next.preCommit(1);

  // A member resuming past its session starts an attempt it began before it was stopped.
  await assert.rejects(open(() => false), { code: 'SLUICE_CLUSTER_NOT_OWNER', message: /does not take its transactional ids over/ });
  await next.commit(1);
  assert.deepEqual((await values()).committed, [10, 11]);
});
