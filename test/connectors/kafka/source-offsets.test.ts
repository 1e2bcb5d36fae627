import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource, type StartFrom } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, type Numbered } from './source-test-support.ts';

function countingJob(name: string, brokers: string[], topic: string, startFrom: StartFrom, target: CollectTarget<number>, groupId?: string) {
  return defineJob({ name, parallelism: 2, checkpoints: { intervalMs: 100 } }, (env) => {
    env
      .source(kafkaSource<Numbered>({ brokers, topics: [topic], format: 'json', startFrom, ...(groupId === undefined ? {} : { groupId }) }))
      .uid('kafka')
      .map((r) => r.value.i)
      .sink(collectSink(target));
  });
}

test('completed checkpoints commit their offsets to the job group; startFrom committed continues from there', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 3, prefix: 'offsets' });
  const producer = await cluster.producer();
  const admin = await cluster.admin();
  const groupId = cluster.uniqueName('group');
  await produceNumbered(producer, topic, 3, 0, 900);
  const first = new CollectTarget<number>();
  await runUntil({ job: countingJob('offsets-a', cluster.brokers, topic, 'earliest', first, groupId), dataDir: await tempDir(t) }, async () => {
    await waitFor(
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return committed?.partitions.every((p) => p.offset === '300');
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'offsets 300 committed to the job group for all 3 partitions' },
    );
  });
  assert.equal(first.records.length, 900);
  await produceNumbered(producer, topic, 3, 900, 1_200);
  // A new job (fresh checkpoint directory) told to start where the group is.
  const second = new CollectTarget<number>();
  await runUntil({ job: countingJob('offsets-b', cluster.brokers, topic, 'committed', second, groupId), dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => second.records.length >= 300, { timeoutMs: 20_000, message: 'the 300 new records' });
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual([...second.records].sort((a, b) => a - b), [...Array(300).keys()].map((i) => 900 + i));
});

test("startFrom 'latest' and { timestamp } skip what came before", async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 2, prefix: 'start' });
  const producer = await cluster.producer();
  await produceNumbered(producer, topic, 2, 0, 200);
  const between = Date.now() + 1;
  await new Promise((resolve) => setTimeout(resolve, 20));
  const latest = new CollectTarget<number>();
  const byTime = new CollectTarget<number>();
  await runUntil({ job: countingJob('start-latest', cluster.brokers, topic, 'latest', latest), dataDir: await tempDir(t) }, async (runner) => {
    await checkpointsCompleted(runner, 1);
    await produceNumbered(producer, topic, 2, 200, 300);
    await waitFor(() => latest.records.length >= 100, { timeoutMs: 20_000, message: 'the records after the start' });
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual([...latest.records].sort((a, b) => a - b), [...Array(100).keys()].map((i) => 200 + i));
  await runUntil({ job: countingJob('start-time', cluster.brokers, topic, { timestamp: between }, byTime), dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => byTime.records.length >= 100, { timeoutMs: 20_000, message: 'the records after the timestamp' });
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual([...byTime.records].sort((a, b) => a - b), [...Array(100).keys()].map((i) => 200 + i));
});

test('a listed topic that does not exist fails the job with SLUICE_KAFKA_TOPIC_NOT_FOUND', async (t) => {
  const cluster = await kafkaCluster(t, { autoCreateTopics: false });
  const missing = cluster.uniqueName('missing');
  const job = defineJob({ name: 'missing-topic', parallelism: 1 }, (env) => {
    env.source(kafkaSource({ brokers: cluster.brokers, topics: [missing], format: 'string' })).sink(collectSink());
  });
  await assert.rejects(new JobRunner({ job }).run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_KAFKA_TOPIC_NOT_FOUND'), String(err));
    assert.match(err.message, new RegExp(`"${missing}" not found; create it or fix the source's \`topics\``));
    return true;
  });
});
