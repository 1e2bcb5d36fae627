import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource, type DeadLetter, type OnDeserializationError } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, runUntil, tally, type Numbered } from './source-test-support.ts';

const GOOD = 300;
/** Record numbers replaced by invalid JSON; record i goes to partition i % 2 at offset floor(i / 2). */
const POISON = [7, 8, 150, 299];

async function topicWithPoison(cluster: KafkaCluster): Promise<string> {
  const topic = await cluster.createTopic({ partitions: 2, prefix: 'poison' });
  const producer = await cluster.producer();
  const messages = [];
  for (let i = 0; i < GOOD; i++) {
    messages.push({ partition: i % 2, key: `k${i}`, value: POISON.includes(i) ? `{"i": ${i},` : JSON.stringify({ i }) });
  }
  await producer.send({ topic, messages });
  return topic;
}

function job(name: string, brokers: string[], topic: string, onDeserializationError: OnDeserializationError, target: CollectTarget<number>, checkpoints: boolean) {
  return defineJob({ name, parallelism: 2, checkpoints: checkpoints ? { intervalMs: 100 } : false }, (env) => {
    env
      .source(kafkaSource<Numbered>({ brokers, topics: [topic], format: 'json', onDeserializationError }))
      .uid('kafka')
      .map((r) => r.value.i)
      .sink(collectSink(target));
  });
}

const expectedGood = (): number[] => [...Array(GOOD).keys()].filter((i) => !POISON.includes(i));

test("onDeserializationError 'skip': every good record exactly once, poison records dropped", async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await topicWithPoison(cluster);
  const target = new CollectTarget<number>();
  await runUntil({ job: job('poison-skip', cluster.brokers, topic, 'skip', target, true), dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => target.records.length >= GOOD - POISON.length, { timeoutMs: 20_000, message: 'the good records' });
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual([...target.records].sort((a, b) => a - b), expectedGood());
});

test('onDeserializationError { deadLetter }: dead letters carry topic, partition, offset, raw value and reason', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await topicWithPoison(cluster);
  const target = new CollectTarget<number>();
  const dead = new CollectTarget<DeadLetter>();
  await runUntil({ job: job('poison-dlq', cluster.brokers, topic, { deadLetter: collectSink(dead) }, target, true), dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => target.records.length >= GOOD - POISON.length && dead.records.length >= POISON.length, {
      timeoutMs: 20_000,
      message: 'good records and dead letters',
    });
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual([...target.records].sort((a, b) => a - b), expectedGood());
  const letters = [...dead.records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  assert.deepEqual(
    letters.map((d) => ({ topic: d.topic, partition: d.partition, offset: d.offset, key: d.key?.toString(), value: d.value?.toString() })),
    [...POISON].sort((a, b) => (a % 2) - (b % 2) || a - b).map((i) => ({ topic, partition: i % 2, offset: Math.floor(i / 2), key: `k${i}`, value: `{"i": ${i},` })),
  );
  for (const d of letters) {
    assert.ok(d.reason.length > 0 && /JSON/i.test(d.reason), d.reason);
    assert.ok(d.timestamp > 0);
  }
  assert.equal(tally(dead.records.map((d) => d.offset * 2 + d.partition)).duplicates.length, 0);
});

test("onDeserializationError 'fail' fails the job with a message naming topic, partition and offset", async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await topicWithPoison(cluster);
  const target = new CollectTarget<number>();
  const runner = new JobRunner({ job: job('poison-fail', cluster.brokers, topic, 'fail', target, false) });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_KAFKA_DESERIALIZATION'), String(err));
    // The first poison record of either partition: 7 (partition 1, offset 3) or 8 (partition 0, offset 4).
    assert.match(err.message, new RegExp(`record ${topic}/(1/3|0/4) \\(topic/partition/offset\\)`));
    assert.match(err.message, /onDeserializationError/);
    return true;
  });
});
