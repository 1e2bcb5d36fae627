import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Admin } from 'kafkajs';
import { pino } from 'pino';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, type Numbered } from './source-test-support.ts';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly partition?: number;
}

const WARN = 40;

/**
 * A two-partition topic of 400 numbered records (200 per partition), read whole by a job that then checkpoints and
 * stops; `runAgain` runs the same job from that checkpoint until `expected` records were read, and answers them
 * sorted. The log lines of both runs land in `lines`.
 */
async function readOnceAndCheckpoint(t: TestContext, prefix: string) {
  const cluster = await kafkaCluster(t);
  const name = cluster.uniqueName(prefix);
  await cluster.createTopic({ partitions: 2, name });
  const producer = await cluster.producer();
  await produceNumbered(producer, name, 2, 0, 400);

  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const jobInto = (target: CollectTarget<number>) =>
    defineJob({ name: `source-${prefix}`, parallelism: 1, checkpoints: { intervalMs: 100 }, restart: { type: 'none' } }, (env) => {
      env
        .source(kafkaSource<Numbered>({ brokers: cluster.brokers, topics: [name], format: 'json' }))
        .uid('kafka')
        .map((r) => r.value.i)
        .sink(collectSink(target));
    });
  const dataDir = await tempDir(t);
  const runReading = async (expected: number, what: string): Promise<number[]> => {
    const target = new CollectTarget<number>();
    await runUntil({ job: jobInto(target), dataDir, logger }, async (runner) => {
      await waitFor(() => target.records.length >= expected, { timeoutMs: 20_000, message: what });
      await checkpointsCompleted(runner, 2);
    });
    return [...target.records].sort((a, b) => a - b);
  };
  await runReading(400, 'the first 400 records');
  return { cluster, name, producer, lines, runAgain: runReading };
}

test('a checkpointed position the log no longer has (topic recreated): the source warns once per partition and reads from the earliest offset', async (t) => {
  const { cluster, name, lines, runAgain } = await readOnceAndCheckpoint(t, 'out-of-range');

  // The checkpoint says 200 per partition; the recreated topic holds 30 per partition.
  await recreateTopic(await cluster.admin(), name, 2);
  const fresh = await cluster.producer();
  await produceNumbered(fresh, name, 2, 1_000, 1_060);

  const second = await runAgain(60, 'the recreated topic read from its start');
  assert.deepEqual(second, [...Array(60).keys()].map((i) => 1_000 + i));
  const warnings = lines.filter((l) => l.level === WARN && /has no offset 200 any more/.test(l.msg));
  assert.deepEqual(warnings.map((l) => l.partition).sort(), [0, 1], 'one warning per partition, naming the position');
});

test('records deleted below the checkpointed position (DeleteRecords, as retention does): the source names the lost range once per partition and reads on from the earliest offset', async (t) => {
  const { cluster, name, producer, lines, runAgain } = await readOnceAndCheckpoint(t, 'deleted-records');

  // The checkpoint says 200 per partition. While the job is down, 100 more arrive per partition (offsets 200-299) and
  // everything below offset 250 is deleted: 50 records per partition the job never read are gone.
  await produceNumbered(producer, name, 2, 400, 600);
  const admin = await cluster.admin();
  // kafkajs 2.2.4's deleteTopicRecords looks up the partitions' leaders before it loads the topic's metadata.
  await admin.fetchTopicMetadata({ topics: [name] });
  await admin.deleteTopicRecords({ topic: name, partitions: [0, 1].map((partition) => ({ partition, offset: '250' })) });
  assert.deepEqual((await admin.fetchTopicOffsets(name)).map((o) => [o.partition, o.low, o.high]).sort(), [[0, '250', '300'], [1, '250', '300']]);

  // Offset 250 of partition p holds i = 400 + 2 × 50 + p: the job reads on from there, each record once.
  const second = await runAgain(100, 'the records left after the deletion');
  assert.deepEqual(second, [...Array(100).keys()].map((i) => 500 + i));
  const warnings = lines.filter((l) => l.level === WARN && /no longer has offsets 200–249 \(deleted by retention\)/.test(l.msg));
  assert.deepEqual(warnings.map((l) => l.partition).sort(), [0, 1], 'one warning per partition, naming the lost range');
});

/**
 * Deletes `topic` and creates it again, empty, with `partitions` partitions — on a real cluster too, where both are
 * asynchronous: DeleteTopics answers once the controller has marked the topic for deletion, its logs go afterwards,
 * and until then CreateTopics answers TOPIC_ALREADY_EXISTS, which kafkajs's createTopics reports by returning false
 * (not by throwing). Creating only once would leave no topic at all — or one auto-created by a client's Metadata
 * request, with the broker's default partition count — and kafkajs's producer silently drops records for partitions
 * it does not know.
 */
async function recreateTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.deleteTopics({ topics: [topic] });
  await waitFor(async () => !(await admin.listTopics()).includes(topic), { timeoutMs: 60_000, intervalMs: 200, message: `topic ${topic} gone from the metadata` });
  await waitFor(() => admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true }), {
    timeoutMs: 60_000,
    intervalMs: 500,
    message: `topic ${topic} created again (TOPIC_ALREADY_EXISTS while its deletion completes)`,
  });
  // The new topic, not a leftover of the old one: every partition led, and empty (the old one held 200 per partition).
  await waitFor(
    async () => {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.length === partitions && offsets.every((o) => o.high === '0' && o.low === '0');
    },
    { timeoutMs: 30_000, intervalMs: 200, message: `the recreated topic ${topic} with ${partitions} empty partitions in the metadata` },
  );
}
