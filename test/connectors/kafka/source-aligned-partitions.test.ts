/**
 * Watermark alignment per partition in the Kafka source: one subtask reads two partitions far apart in event time.
 * The partition ahead is paused in the reader — its fetched records dropped from the buffer and fetched again from
 * its position when it resumes — while the one behind catches up; every record still arrives exactly once, in
 * partition order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaSource, type KafkaRecord } from '../../../connectors/kafka/index.ts';
import { defineJob, monotonousTimestamps, type Sink } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { waitFor } from '../../support/wait-for.ts';
import { runUntil } from './source-test-support.ts';

const PER_PARTITION = 3_000;
/** Partition 1 starts this far (event time) after partition 0 ends. */
const AHEAD_MS = 1_000_000;

interface Stamped {
  readonly n: number;
  readonly ts: number;
}

const discard: Sink<unknown> = {
  name: 'discard',
  createWriter: () => ({ start: async () => {}, write: async () => {}, preCommit: async () => undefined, commit: async () => {}, finish: async () => {}, close: async () => {} }),
};

for (const aligned of [true, false]) {
  test(`a Kafka source subtask ${aligned ? 'pauses the partition ahead until the one behind catches up' : 'without alignment reads both partitions as they come'}, exactly once`, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: 2, prefix: 'aligned' });
    const producer = await cluster.producer();
    for (let start = 0; start < PER_PARTITION; start += 500) {
      const messages = [];
      for (let n = start; n < start + 500; n++) {
        messages.push({ partition: 0, value: JSON.stringify({ n, ts: n * 10 }) });
        messages.push({ partition: 1, value: JSON.stringify({ n, ts: AHEAD_MS + n * 10 }) });
      }
      await producer.send({ topic, messages });
    }
    const read: Array<{ partition: number; n: number }> = [];
    const alignment = aligned ? { alignment: { group: 'topic', maxDriftMs: 1_000, updateIntervalMs: 10 } } : {};
    const job = defineJob({ name: 'aligned-partitions', parallelism: 1 }, (env) => {
      env
        // Small fetches: each brings some records of both partitions, so unaligned they interleave.
        .source(kafkaSource<Stamped>({ brokers: cluster.brokers, topics: [topic], format: 'json', maxBatchRecords: 50, bufferBytes: 16 * 1024, fetch: { maxBytesPerPartition: 4 * 1024 } }), {
          // Partition 0 goes idle once it has nothing more, and lets partition 1 read on.
          watermarks: monotonousTimestamps<KafkaRecord<Stamped>>({ timestamp: (r) => r.value.ts, idleAfterMs: 200, ...alignment }),
        })
        .map((r) => {
          read.push({ partition: r.partition, n: r.value.n });
          return r;
        })
        .sink(discard);
    });
    await runUntil({ job }, () => waitFor(() => read.length >= 2 * PER_PARTITION, { timeoutMs: 60_000, message: 'every record read' }));
    for (const partition of [0, 1]) {
      const ns = read.filter((r) => r.partition === partition).map((r) => r.n);
      assert.deepEqual(ns, Array.from({ length: PER_PARTITION }, (_, n) => n), `partition ${partition}: every record once, in order`);
    }
    const lastOfPartition0 = read.findIndex((r) => r.partition === 0 && r.n === PER_PARTITION - 1);
    const partition1Early = read.slice(0, lastOfPartition0).filter((r) => r.partition === 1).length;
    if (aligned) assert.ok(partition1Early <= 50, `partition 1 gave ${partition1Early} records before partition 0 caught up (its first batch at most)`);
    else assert.ok(partition1Early > 50, `unaligned, partition 1 gave only ${partition1Early} records before partition 0 ended`);
  });
}
