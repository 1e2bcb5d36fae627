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
/**
 * Partition 0 covers 0–60 s of event time in steps of 20 ms, partition 1 30–60 s in steps of 10 ms: partition 1 starts
 * 30 s ahead, and both end together (so neither needs to go idle for the other to finish: on a loaded machine a
 * partition being read can be taken for idle between two chunks).
 */
const tsOf = (partition: number, n: number): number => (partition === 0 ? n * 20 : 30_000 + n * 10);
const MAX_DRIFT_MS = 1_000;
const CHUNK = 50;

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
        messages.push({ partition: 0, value: JSON.stringify({ n, ts: tsOf(0, n) }) });
        messages.push({ partition: 1, value: JSON.stringify({ n, ts: tsOf(1, n) }) });
      }
      await producer.send({ topic, messages });
    }
    const read: Array<{ partition: number; n: number }> = [];
    const alignment = aligned ? { alignment: { group: 'topic', maxDriftMs: MAX_DRIFT_MS, updateIntervalMs: 10 } } : {};
    const job = defineJob({ name: 'aligned-partitions', parallelism: 1 }, (env) => {
      env
        // Small fetches: each brings some records of both partitions, so unaligned they interleave.
        .source(kafkaSource<Stamped>({ brokers: cluster.brokers, topics: [topic], format: 'json', maxBatchRecords: CHUNK, bufferBytes: 16 * 1024, fetch: { maxBytesPerPartition: 4 * 1024 } }), {
          watermarks: monotonousTimestamps<KafkaRecord<Stamped>>({ timestamp: (r) => r.value.ts, ...alignment }),
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
    // Aligned, partition 1 is read at most the drift and a chunk ahead of partition 0 (but for its first chunk, read
    // before partition 0 has a watermark), until partition 0 has been read to its end.
    let partition0 = Number.NEGATIVE_INFINITY;
    let worst = Number.NEGATIVE_INFINITY;
    for (const r of read) {
      const ts = tsOf(r.partition, r.n);
      if (r.partition === 0) partition0 = Math.max(partition0, ts);
      else if (r.n >= CHUNK && partition0 < tsOf(0, PER_PARTITION - 1)) worst = Math.max(worst, ts - partition0);
    }
    const bound = MAX_DRIFT_MS + CHUNK * 10;
    if (aligned) assert.ok(worst <= bound, `partition 1 was read ${worst} ms ahead of partition 0 (bound ${bound})`);
    else assert.ok(worst > bound, `unaligned, partition 1 was read only ${worst} ms ahead of partition 0`);
  });
}
