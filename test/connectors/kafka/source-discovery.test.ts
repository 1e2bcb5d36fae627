import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, observed, produceNumbered, runUntil, tally, type Numbered } from './source-test-support.ts';

interface Seen {
  i: number;
  topic: string;
  partition: number;
}

test('partitions 2 → 4 while the job runs: the new partitions are read from their start, nothing skipped or duplicated', async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: 2, prefix: 'discovery' });
  const producer = await cluster.producer();
  const admin = await cluster.admin();
  await produceNumbered(producer, topic, 2, 0, 1_000);
  const target = new CollectTarget<Seen>();
  const { source, changes } = observed(kafkaSource<Numbered>({ brokers: cluster.brokers, topics: [topic], format: 'json', discoveryIntervalMs: 200 }));
  const job = defineJob({ name: 'discovery', parallelism: 3, checkpoints: { intervalMs: 100 } }, (env) => {
    env.source(source).uid('kafka').map((r) => ({ i: r.value.i, topic: r.topic, partition: r.partition })).sink(collectSink(target));
  });
  await runUntil({ job, dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => target.records.length >= 1_000, { timeoutMs: 20_000, message: 'the first 1,000 records' });
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    // Written right away, before any discovery round can have seen the new partitions. A new producer: kafkajs's
    // producer refreshes metadata every 5 minutes and silently drops messages for partitions it does not know yet.
    await produceNumbered(await cluster.producer(), topic, 4, 1_000, 3_000);
    await waitFor(() => target.records.length >= 3_000, {
      timeoutMs: 30_000,
      message: '3,000 committed records',
      describe: () => ({ committed: target.records.length, changes }),
    });
    await checkpointsCompleted(runner, 2);
  });
  const { distinct, duplicates } = tally(target.records.map((r) => r.i));
  assert.deepEqual(duplicates, []);
  assert.equal(distinct, 3_000);
  assert.equal(target.records.length, 3_000);
  assert.ok(target.records.some((r) => r.partition === 3), 'records of a new partition arrived');
  assert.ok(changes.length >= 1, 'the change was reported');
  for (const change of changes) assert.deepEqual(change, { splits: 4, added: [`${topic}-2`, `${topic}-3`], removed: [] });
});

test('topicPattern: a topic created while the job runs is read from its start', async (t) => {
  const cluster = await kafkaCluster(t);
  const prefix = `pattern-${randomUUID()}`;
  const first = await cluster.createTopic({ partitions: 2, name: cluster.uniqueName(`${prefix}-a`).replace(/-a-.*/, '-a') });
  const producer = await cluster.producer();
  await produceNumbered(producer, first, 2, 0, 500);
  const target = new CollectTarget<Seen>();
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  const { source, changes } = observed(
    kafkaSource<Numbered>({ brokers: cluster.brokers, topicPattern: new RegExp(`^${escaped}-`), format: 'json', discoveryIntervalMs: 200 }),
  );
  const job = defineJob({ name: 'pattern', parallelism: 2, checkpoints: { intervalMs: 100 } }, (env) => {
    env.source(source).uid('kafka').map((r) => ({ i: r.value.i, topic: r.topic, partition: r.partition })).sink(collectSink(target));
  });
  const second = cluster.uniqueName(`${prefix}-b`).replace(/-b-.*/, '-b');
  await runUntil({ job, dataDir: await tempDir(t) }, async (runner) => {
    await waitFor(() => target.records.length >= 500, { timeoutMs: 20_000, message: 'records of the first topic' });
    await cluster.createTopic({ partitions: 3, name: second });
    await produceNumbered(producer, second, 3, 500, 1_400);
    await waitFor(() => target.records.length >= 1_400, {
      timeoutMs: 30_000,
      message: 'records of the second topic',
      describe: () => ({ committed: target.records.length, changes }),
    });
    await checkpointsCompleted(runner, 2);
  });
  const { distinct, duplicates } = tally(target.records.map((r) => r.i));
  assert.deepEqual(duplicates, []);
  assert.equal(distinct, 1_400);
  assert.equal(target.records.filter((r) => r.topic === second).length, 900);
  assert.ok(changes.length >= 1);
  for (const change of changes) assert.deepEqual(change, { splits: 5, added: [`${second}-0`, `${second}-1`, `${second}-2`], removed: [] });
});
