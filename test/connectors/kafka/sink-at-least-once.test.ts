import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, datagen } from '../../../connectors/dev/index.ts';
import { kafkaSink } from '../../../connectors/kafka/sink/index.ts';
import { defineJob, type Sink } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const RECORDS = 20_000;

for (const parallelism of [1, 2, 3]) {
  test(`at-least-once at p = ${parallelism}: every record reaches Kafka exactly once without failures, with key and headers`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: 3 });
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(dir);
    t.after(() => store.close());
    const job = defineJob({ name: 'sink-alo', parallelism, checkpoints: { intervalMs: 50 }, restart: { type: 'none' } }, (env) => {
      env
        .source(datagen({ count: RECORDS, splits: 3, batchSize: 300, record: (i) => ({ i, customer: `c${i % 17}` }) }))
        .sink(kafkaSink<{ i: number; customer: string }>({ brokers: cluster.brokers, topic, key: (r) => r.customer, headers: { origin: 'sluice' } }));
    });
    assert.equal(await new JobRunner({ job, store }).run(), 'finished');

    const { records } = await cluster.collect(topic);
    await waitFor(() => records.length >= RECORDS, { timeoutMs: 30_000, message: `${RECORDS} records`, describe: () => records.length });
    const seen = new Set(records.map((r) => (JSON.parse(r.value as string) as { i: number }).i));
    assert.equal(seen.size, RECORDS, 'every record arrived');
    assert.equal(records.length, RECORDS, 'no duplicates without failures');
    const sample = records[0];
    assert.ok(sample !== undefined);
    const value = JSON.parse(sample.value as string) as { customer: string };
    assert.equal(sample.key, value.customer, 'the key function sets the record key');
    assert.equal(String(sample.headers['origin']), 'sluice');
  });
}

test('at-least-once: a barrier is acknowledged only after every record before it is acknowledged by Kafka', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 2 });
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const admin = await cluster.admin();
  let checked = 0;
  const inner = kafkaSink<number>({ brokers: cluster.brokers, topic, batchSize: 100 });
  // Wraps the sink: right after preCommit resolves, everything written so far must already be in the topic.
  let written = 0;
  const checking: Sink<number> = {
    name: 'checking',
    createWriter(context) {
      const writer = inner.createWriter(context);
      return {
        start: () => writer.start(),
        write: (records) => {
          written += records.length;
          return writer.write(records);
        },
        preCommit: async (id) => {
          const state = await writer.preCommit(id);
          const offsets = await admin.fetchTopicOffsets(topic);
          const inTopic = offsets.reduce((n, p) => n + Number(p.high), 0);
          assert.equal(inTopic, written, `checkpoint ${id}: records written before the barrier are all in Kafka`);
          checked++;
          return state;
        },
        commit: (id) => writer.commit(id),
        finish: () => writer.finish(),
        close: (outcome) => writer.close(outcome),
      };
    },
  };
  const job = defineJob({ name: 'sink-alo-barrier', checkpoints: { intervalMs: 20 }, restart: { type: 'none' } }, (env) => {
    env.source(datagen({ count: 30_000, batchSize: 250, ratePerSecond: 200_000, record: (i) => i })).sink(checking);
  });
  assert.equal(await new JobRunner({ job, store }).run(), 'finished');
  assert.ok(checked >= 2, `barriers checked: ${checked}`);
});

test('at-least-once without checkpoints: finish flushes everything', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic();
  const job = defineJob({ name: 'sink-alo-nocp' }, (env) => {
    env.source(collection(['a', 'b', 'c'])).sink(kafkaSink<string>({ brokers: cluster.brokers, topic, serializer: (s) => s.toUpperCase() }));
  });
  assert.equal(await new JobRunner({ job }).run(), 'finished');
  const { records } = await cluster.collect(topic);
  await waitFor(() => records.length >= 3, { message: 'three records' });
  assert.deepEqual(records.map((r) => r.value).sort(), ['A', 'B', 'C']);
});

test('at-least-once across failures: every record reaches Kafka at least once', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 2 });
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const failAt = new Set([4_000, 11_000, 17_000]);
  const job = defineJob({ name: 'sink-alo-failures', parallelism: 2, checkpoints: { intervalMs: 30 }, restart: { type: 'fixed-delay', attempts: 10, delayMs: 5 } }, (env) => {
    env
      .source(datagen({ count: RECORDS, splits: 2, batchSize: 200, ratePerSecond: 100_000, record: (i) => i }))
      .map((i) => {
        if (failAt.delete(i)) throw new Error(`injected failure at ${i}`);
        return i;
      })
      .sink(kafkaSink<number>({ brokers: cluster.brokers, topic }));
  });
  const runner = new JobRunner({ job, store });
  assert.equal(await runner.run(), 'finished');
  assert.equal(runner.attempts, 4);
  const { records } = await cluster.collect(topic);
  const seen = new Set<number>();
  await waitFor(
    () => {
      for (const r of records.splice(0)) seen.add(Number(r.value));
      return seen.size >= RECORDS;
    },
    { timeoutMs: 30_000, message: 'every record at least once', describe: () => seen.size },
  );
});
