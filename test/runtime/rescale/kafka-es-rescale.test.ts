import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner, type RescaleRecord } from '../../../runtime/runner/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { KAFKA_ES_COUNTS_MODULE, kafkaEsCounts, type Count } from './fixtures/kafka-es-counts.ts';

const KEYS = 300;
const PER_PHASE = 8_000;
const PHASES = 4;
const TOTAL = PER_PHASE * PHASES;
const keyOf = (i: number): string => `k${(i * 7919) % KEYS}`;

/** Writes events [from, to) round-robin over the topic's first `partitions` partitions, in sends of 1,000. */
async function produce(cluster: KafkaCluster, topic: string, partitions: number, from: number, to: number): Promise<void> {
  const producer = await cluster.producer();
  for (let start = from; start < to; start += 1_000) {
    const messages = [];
    for (let i = start; i < Math.min(to, start + 1_000); i++) messages.push({ partition: i % partitions, value: JSON.stringify({ i, key: keyOf(i) }) });
    await producer.send({ topic, messages });
  }
}

function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < TOTAL; i++) counts.set(keyOf(i), (counts.get(keyOf(i)) ?? 0) + 1);
  return counts;
}

for (const workers of [0, 2]) test(`keyed counts through p = 2 → 3 → 8 → 4 (partition-triggered and manual): exactly once into Kafka and Elasticsearch (workers ${workers})`, { timeout: 240_000 }, async (t) => {
  const cluster = await kafkaCluster(t);
  const es = await elasticsearchNode(t);
  const store = await CheckpointStore.open(await tempDir(t));
  cluster.defer(() => store.close());
  const input = await cluster.createTopic({ partitions: 2, prefix: 'rescale-in' });
  const output = await cluster.createTopic({ partitions: 4, prefix: 'rescale-out' });
  const index = es.uniqueIndex('rescale-counts');

  const params = new JobParams([
    ['brokers', cluster.brokers.join(',')],
    ['input', input],
    ['output', output],
    ['txnPrefix', cluster.uniqueName('rescale-txn')],
    ['esNode', es.node],
    ['index', index],
  ]);
  const runner = new JobRunner({ job: kafkaEsCounts, params, store, workers, jobModule: KAFKA_ES_COUNTS_MODULE });
  const rescales: RescaleRecord[] = [];
  runner.events.subscribe((e) => {
    if (e.type === 'rescaled') rescales.push(e.rescale);
  });
  const done = runner.run();
  const client = es.client();
  const indexedTotal = async (): Promise<number> => {
    await client.indices.refresh({ index }).catch(() => undefined);
    const found = await client.search<Count>({ index, size: KEYS * 2, query: { match_all: {} } }).catch(() => undefined);
    return (found?.hits.hits ?? []).reduce((sum, h) => sum + (h._source?.n ?? 0), 0);
  };
  const progressed = (total: number, message: string) => waitFor(async () => (await indexedTotal()) >= total, { timeoutMs: 60_000, intervalMs: 200, message });

  await produce(cluster, input, 2, 0, PER_PHASE);
  await progressed(PER_PHASE / 2, 'phase 1 never reached Elasticsearch');

  // Partitions 2 → 3 while records flow: "match" rescales 2 → 3.
  const admin = await cluster.admin();
  await admin.createPartitions({ topicPartitions: [{ topic: input, count: 3 }] });
  await produce(cluster, input, 3, PER_PHASE, 2 * PER_PHASE);
  await waitFor(() => rescales.length === 1, { timeoutMs: 60_000, message: 'no rescale after partitions 2 → 3' });
  assert.deepEqual([rescales[0]?.from, rescales[0]?.to, rescales[0]?.trigger], [2, 3, 'splits-changed']);

  // Manual 3 → 8 (five idle source subtasks per pipeline must not block checkpoints), with records in flight.
  const producing = produce(cluster, input, 3, 2 * PER_PHASE, 3 * PER_PHASE);
  await runner.rescale(8);
  await producing;
  await progressed(2 * PER_PHASE, 'no progress at p = 8');
  const checkpointsAt8 = (runner.lastCheckpoint?.id ?? 0) + 2;
  await waitFor(() => (runner.lastCheckpoint?.id ?? 0) >= checkpointsAt8, { timeoutMs: 30_000, message: 'checkpoints stalled at p = 8' });

  // Partitions 3 → 4: "match" rescales 8 → 4.
  await admin.createPartitions({ topicPartitions: [{ topic: input, count: 4 }] });
  await waitFor(() => rescales.length === 3, { timeoutMs: 60_000, message: 'no rescale after partitions 3 → 4' });
  await produce(cluster, input, 4, 3 * PER_PHASE, TOTAL);
  await progressed(TOTAL, 'not every record reached Elasticsearch');
  assert.deepEqual(rescales.map((r) => [r.from, r.to, r.trigger]), [[2, 3, 'splits-changed'], [3, 8, 'manual'], [8, 4, 'splits-changed']]);

  // Two more checkpoints: the second's completion means the first one's Kafka transactions are committed.
  await runner.checkpoint();
  await runner.checkpoint();
  runner.cancel();
  assert.equal(await done, 'cancelled');
  assert.equal(runner.workers, workers, 'ran on the workers asked for');

  const expected = expectedCounts();
  const { committed } = await readCommitted(cluster, output, 4);
  const updates = committed.map((r) => JSON.parse(r.value) as Count);
  assert.equal(updates.length, TOTAL, `one committed update per input record (${updates.length - TOTAL} extra)`);
  const lastInKafka = new Map<string, number>();
  for (const u of updates) lastInKafka.set(u.key, Math.max(lastInKafka.get(u.key) ?? 0, u.n));
  assert.deepEqual(lastInKafka, expected, 'Kafka totals equal a run without rescales');
  const perKeyUpdates = new Map<string, number>();
  for (const u of updates) perKeyUpdates.set(u.key, (perKeyUpdates.get(u.key) ?? 0) + 1);
  assert.deepEqual(perKeyUpdates, expected, 'each key has exactly as many updates as records: no loss, no duplicate');

  await client.indices.refresh({ index });
  const docs = await client.search<Count>({ index, size: KEYS * 2, query: { match_all: {} } });
  assert.equal(docs.hits.hits.length, KEYS, 'one document per key, no extras');
  assert.deepEqual(new Map(docs.hits.hits.map((h) => [h._id, h._source?.n])), expected, 'Elasticsearch counts equal a run without rescales');
});
