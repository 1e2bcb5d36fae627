import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { pino } from 'pino';
import { collectSink, CollectTarget } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { checkpointsCompleted, produceNumbered, runUntil, tally, type Numbered } from './source-test-support.ts';

interface Seen {
  readonly i: number;
  readonly topic: string;
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly topic?: string;
}

const WARN = 40;

test('topicPattern: a topic deleted while the job runs is dropped with one warning; the other topics go on, state kept', async (t) => {
  const cluster = await kafkaCluster(t);
  const prefix = `deleted-${randomUUID().slice(0, 8)}`;
  const kept = await cluster.createTopic({ partitions: 2, name: `${prefix}-kept` });
  const doomed = await cluster.createTopic({ partitions: 2, name: `${prefix}-doomed` });
  const producer = await cluster.producer();
  await produceNumbered(producer, kept, 2, 0, 400);
  await produceNumbered(producer, doomed, 2, 400, 800);

  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const group = cluster.uniqueName('group');
  const jobInto = (target: CollectTarget<Seen>) =>
    defineJob({ name: 'source-topic-deleted', parallelism: 2, checkpoints: { intervalMs: 100 }, restart: { type: 'none' } }, (env) => {
      env
        .source(kafkaSource<Numbered>({ brokers: cluster.brokers, topicPattern: new RegExp(`^${prefix}-`), groupId: group, format: 'json', discoveryIntervalMs: 200 }))
        .uid('kafka')
        .map((r): Seen => ({ i: r.value.i, topic: r.topic }))
        .sink(collectSink(target));
    });
  const target = new CollectTarget<Seen>();
  const deletionWarnings = () => lines.filter((l) => l.level === WARN && l.topic === doomed && /no longer exists/.test(l.msg));
  const dataDir = await tempDir(t);
  let attempts = 0;
  await runUntil({ job: jobInto(target), dataDir, logger }, async (runner) => {
    runner.events.subscribe((e) => {
      if (e.type === 'attempt-started') attempts++;
    });
    await waitFor(() => target.records.length >= 800, { timeoutMs: 20_000, message: 'records of both topics' });
    const admin = await cluster.admin();
    await admin.deleteTopics({ topics: [doomed] });
    await waitFor(() => deletionWarnings().length > 0, { timeoutMs: 20_000, message: 'the deletion to be noticed' });
    await produceNumbered(producer, kept, 2, 800, 1_200);
    await waitFor(() => target.records.length >= 1_200, {
      timeoutMs: 20_000,
      message: 'records of the remaining topic after the deletion',
      describe: () => ({ committed: target.records.length }),
    });
    // Several more discovery rounds and checkpoints: the job keeps running and says it once.
    await checkpointsCompleted(runner, 8);
  });
  assert.equal(attempts, 1, 'no restart: the deletion is not a failure');
  assert.equal(deletionWarnings().length, 1, 'one warning for the job');
  assert.equal(lines.filter((l) => l.level > WARN).length, 0, `no errors: ${JSON.stringify(lines.filter((l) => l.level > WARN).slice(0, 3))}`);
  const first = tally(target.records.map((r) => r.i));
  assert.deepEqual(first.duplicates, []);
  assert.equal(first.distinct, 1_200);

  // State kept: a rerun from the data directory continues where the checkpoint left the remaining topic.
  await produceNumbered(producer, kept, 2, 1_200, 1_500);
  const rerun = new CollectTarget<Seen>();
  await runUntil({ job: jobInto(rerun), dataDir }, async (runner) => {
    await waitFor(() => rerun.records.length >= 300, { timeoutMs: 20_000, message: 'the records written after the first run' });
    await checkpointsCompleted(runner, 2);
  });
  assert.deepEqual(
    rerun.records.map((r) => r.i).sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, n) => 1_200 + n),
    'exactly the new records: the checkpoint kept the remaining topic\'s positions',
  );
});

test('a deleted topic is noticed through the fetcher when discoveryIntervalMs is longer than the fetcher retry budget: no failover', async (t) => {
  const cluster = await kafkaCluster(t);
  const prefix = `deleted-long-${randomUUID().slice(0, 8)}`;
  const kept = await cluster.createTopic({ partitions: 1, name: `${prefix}-kept` });
  const doomed = await cluster.createTopic({ partitions: 1, name: `${prefix}-doomed` });
  const producer = await cluster.producer();
  await produceNumbered(producer, kept, 1, 0, 100);
  await produceNumbered(producer, doomed, 1, 100, 200);
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const target = new CollectTarget<Seen>();
  // The fetcher gives up after ~1.5 s of UNKNOWN_TOPIC_OR_PARTITION; the next scheduled discovery is 10 minutes away.
  const source = kafkaSource<Numbered>({
    brokers: cluster.brokers,
    topicPattern: new RegExp(`^${prefix}-`),
    format: 'json',
    discoveryIntervalMs: 600_000,
    retry: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 800 },
  });
  const job = defineJob({ name: 'source-topic-deleted-long', parallelism: 1, checkpoints: { intervalMs: 100 }, restart: { type: 'none' } }, (env) => {
    env.source(source).uid('kafka').map((r): Seen => ({ i: r.value.i, topic: r.topic })).sink(collectSink(target));
  });
  let attempts = 0;
  await runUntil({ job, dataDir: await tempDir(t), logger }, async (runner) => {
    runner.events.subscribe((e) => {
      if (e.type === 'attempt-started') attempts++;
    });
    await waitFor(() => target.records.length >= 200, { timeoutMs: 20_000, message: 'records of both topics' });
    await (await cluster.admin()).deleteTopics({ topics: [doomed] });
    await waitFor(() => lines.some((l) => l.level === WARN && l.topic === doomed && /no longer exists/.test(l.msg)), {
      timeoutMs: 20_000,
      message: 'the deletion to be noticed',
    });
    await produceNumbered(producer, kept, 1, 200, 300);
    await waitFor(() => target.records.length >= 300, { timeoutMs: 20_000, message: 'records of the remaining topic after the deletion' });
    await checkpointsCompleted(runner, 2);
  });
  assert.equal(attempts, 1, 'no failover: the deletion was seen before the fetcher ran out of retries');
  const { distinct, duplicates } = tally(target.records.map((r) => r.i));
  assert.deepEqual(duplicates, []);
  assert.equal(distinct, 300);
});
