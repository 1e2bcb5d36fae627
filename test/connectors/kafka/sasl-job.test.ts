import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaSink, kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted, SENTINEL } from '../../support/kafka-committed.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, type Numbered } from './source-test-support.ts';

// Secured clusters: every client a job opens (the source's metadata, fetch, group and admin connections, the
// exactly-once sink's transactional producers and their coordinator) must authenticate. The broker closes any
// connection that sends a request before SASL, so one client built without the job's `sasl` fails the job.
const SASL = { username: 'sluice', password: 'sluice-secret' };
const RECORDS = 2_000;

test('a Kafka → Kafka job with SASL/PLAIN on source and exactly-once sink writes every record once, in order per key', { skip: devstackOnly('starts a broker whose listener requires SASL/PLAIN') }, async (t) => {
  const cluster = await kafkaCluster(t, { sasl: SASL });
  const input = cluster.uniqueName('sasl-in');
  const output = cluster.uniqueName('sasl-out');
  await cluster.createTopic({ name: input, partitions: 2 });
  await cluster.createTopic({ name: output, partitions: 2 });
  await produceNumbered(await cluster.producer(), input, 2, 0, RECORDS);

  const sasl = { mechanism: 'plain' as const, ...SASL };
  const job = defineJob({ name: 'sasl-copy', parallelism: 2, checkpoints: { intervalMs: 200 }, restart: { type: 'none' } }, (env) => {
    env
      .source(kafkaSource<Numbered>({ brokers: cluster.brokers, topics: [input], format: 'json', sasl }))
      .uid('kafka-in')
      .map((r) => ({ key: `k${r.value.i % 10}`, i: r.value.i }))
      .sink(kafkaSink<{ key: string; i: number }>({
        brokers: cluster.brokers,
        topic: output,
        key: (r) => r.key,
        serializer: (r) => String(r.i),
        guarantee: 'exactly-once',
        transactionalIdPrefix: cluster.uniqueName('sasl-txn'),
        sasl,
      }));
  });
  const dataDir = await tempDir(t);
  const { records } = await cluster.collect(output); // read_committed: what the sink's transactions committed
  await runUntil({ job, dataDir }, async (runner) => {
    await waitFor(() => records.length >= RECORDS, { timeoutMs: 60_000, message: 'every record committed to the output' });
    await checkpointsCompleted(runner, 1);
  });

  const { committed } = await readCommitted(cluster, output, 2);
  const values = committed.filter((r) => r.value !== SENTINEL).map((r) => Number(r.value));
  assert.deepEqual([...values].sort((a, b) => a - b), [...Array(RECORDS).keys()], 'every record exactly once');
  // Key k holds the records i with i % 10 = k, all from input partition k % 2, read and written in offset order.
  for (let k = 0; k < 10; k++) {
    const ofKey = committed.filter((r) => r.key === `k${k}`).map((r) => Number(r.value));
    assert.deepEqual(ofKey, [...Array(RECORDS / 10).keys()].map((n) => 10 * n + k), `k${k} in order`);
  }
});
