import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import type { KafkaSourceReader } from '../../../connectors/kafka/source/index.ts';
import { defineJob, type Sink } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { waitFor } from '../../support/wait-for.ts';
import { observed, produceNumbered, runUntil, type Numbered } from './source-test-support.ts';

const RECORDS = 20_000;
const BUFFER_BYTES = 16 * 1024;
const MAX_BATCH = 50;

/** A sink that takes 20 ms per batch: far slower than Kafka delivers. */
function slowSink(counter: { count: number }): Sink<unknown> {
  return {
    name: 'slow',
    createWriter: () => ({
      start: async () => {},
      write: async (records) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        counter.count += records.length;
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}

test('a slow pipeline pauses fetching: the reader never buffers more than bufferBytes plus one batch', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 4, prefix: 'backpressure' });
  await produceNumbered(await cluster.producer(), topic, 4, 0, RECORDS);
  const { source, readers } = observed(
    kafkaSource<Numbered>({
      brokers: cluster.brokers,
      topics: [topic],
      format: 'json',
      bufferBytes: BUFFER_BYTES,
      maxBatchRecords: MAX_BATCH,
      fetch: { maxBytesPerPartition: 16 * 1024, maxBytes: 64 * 1024 },
    }),
  );
  const counter = { count: 0 };
  const job = defineJob({ name: 'backpressure', parallelism: 1 }, (env) => {
    env.source(source).sink(slowSink(counter));
  });
  let maxBytes = 0;
  let maxRecords = 0;
  let largestRecordBytes = 0;
  await runUntil({ job }, async () => {
    const reader = (await waitFor(() => readers[0], { message: 'the reader' })) as unknown as KafkaSourceReader<Numbered>;
    await waitFor(
      () => {
        const { bytes, records } = reader.buffered;
        maxBytes = Math.max(maxBytes, bytes);
        maxRecords = Math.max(maxRecords, records);
        if (records > 0) largestRecordBytes = Math.max(largestRecordBytes, Math.ceil(bytes / records));
        return counter.count >= 3_000;
      },
      { timeoutMs: 30_000, intervalMs: 5, message: '3,000 records through the slow sink' },
    );
  });
  // The buffer is admitted while below its capacity, so it can exceed it by at most one chunk.
  const bound = BUFFER_BYTES + MAX_BATCH * largestRecordBytes;
  assert.ok(maxBytes > 0, 'the buffer was used');
  assert.ok(maxBytes <= bound, `buffered at most ${maxBytes} bytes; bound ${bound}`);
  assert.ok(maxRecords <= Math.ceil(bound / 100), `buffered at most ${maxRecords} records`);
  assert.ok(counter.count < RECORDS, 'the sink was still behind: fetching had to pause');
});
